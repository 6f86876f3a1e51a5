"""Charging sessions from OCPP transactions: authorisation, start, meter values, stop.

Energy comes from the meter register: `energy_wh = last Energy.Active.Import.Register -
meter_start_wh`. `last_meter_at` is the time of the last register reading applied; while it is
None the session has no baseline yet and the first register reading becomes `meter_start_wh`
(OCPP 2.0.1 stations need not send a reading in TransactionEvent Started).

Every function is idempotent against retransmission: stations resend a message they got no
answer for, so the same start, stop or event may arrive twice.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

import sqlalchemy as sa
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.engine import SessionFactory
from app.db.models import ChargingSession, Driver, Evse, IdToken, MeterSample
from app.domain.alerts import AlertCode, AlertSeverity, AlertSource
from app.domain.enums import AuthorizationStatus, SessionStatus
from app.domain.errors import InvalidInput
from app.domain.id_tokens import canonical_uid
from app.domain.metering import MeterReading, energy_register_wh, power_w, soc_percent
from app.events import EventBus, topics
from app.services import alerts, command_outcomes, live_sessions
from app.services.alerts import Event
from app.services.cdrs import update_session_price
from app.services.group_commit import GroupCommit, run_unit
from app.services.pricing import price_so_far, update_live_cost
from app.services.reservation_lifecycle import mark_used
from app.services.stations import get_or_create_evse


@dataclass(frozen=True, slots=True)
class Authorization:
    status: AuthorizationStatus
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StartedSession:
    session_id: int
    transaction_id: str
    authorization: Authorization | None


class TransactionEventType(StrEnum):
    STARTED = "Started"
    UPDATED = "Updated"
    ENDED = "Ended"


@dataclass(frozen=True, slots=True)
class TransactionEventData:
    """An OCPP 2.0.1 TransactionEvent, version-neutral."""

    event_type: TransactionEventType
    transaction_id: str
    seq_no: int
    timestamp: datetime
    ocpp_evse_id: int | None = None
    ocpp_connector_id: int | None = None
    id_token: str | None = None
    stopped_reason: str | None = None
    readings: tuple[MeterReading, ...] = ()
    reservation_id: int | None = None
    remote_start_id: int | None = None


async def _authorize(db: AsyncSession, uid: str, at: datetime) -> Authorization:
    return (await _authorize_token(db, uid, at))[0]


async def _authorize_token(
    db: AsyncSession, uid: str, at: datetime
) -> tuple[Authorization, IdToken | None]:
    """The verdict and the token row it came from (a session start reuses its driver)."""
    token = (await db.exec(select(IdToken).where(IdToken.uid == canonical_uid(uid)))).first()
    return await _verdict(db, token, at), token


async def _verdict(db: AsyncSession, token: IdToken | None, at: datetime) -> Authorization:
    if token is None:
        return Authorization(AuthorizationStatus.INVALID)
    if token.driver_id is not None:
        driver = await db.get(Driver, token.driver_id)
        if driver is None or driver.disabled:
            # A disabled account charges with none of its cards or its app.
            return Authorization(AuthorizationStatus.BLOCKED, token.expires_at)
    if token.status != AuthorizationStatus.ACCEPTED:
        return Authorization(token.status, token.expires_at)
    if token.expires_at is not None and token.expires_at <= at:
        return Authorization(AuthorizationStatus.EXPIRED, token.expires_at)
    return Authorization(AuthorizationStatus.ACCEPTED, token.expires_at)


def _driver_of(token: IdToken | None) -> int | None:
    return token.driver_id if token is not None else None


async def authorize(
    *, session_factory: SessionFactory, id_token: str, at: datetime | None = None
) -> Authorization:
    """The verdict on an ID token: unknown is INVALID; BLOCKED, EXPIRED and expiry are honoured."""
    async with session_factory() as db:
        return await _authorize(db, id_token, at or datetime.now(UTC))


# Registers are BIGINT columns; power and SoC INTEGER (PostgreSQL refuses more, SQLite not).
_MAX_REGISTER_WH = 2**63 - 1
_INT32 = 2**31


def _check_register(name: str, value_wh: int) -> None:
    if not 0 <= value_wh <= _MAX_REGISTER_WH:
        raise InvalidInput(f"{name}={value_wh} Wh: expected a meter register of 0 to 2**63-1 Wh")


def check_readings(readings: Iterable[MeterReading]) -> None:
    """Refuse readings whose register, power or SoC no column can hold (InvalidInput).

    Checked before the unit of work, so a bad message never fails a shared batch.
    """
    for reading in readings:
        if (register := energy_register_wh(reading)) is not None:
            _check_register("Energy.Active.Import.Register", register)
        if (watts := power_w(reading)) is not None and not -_INT32 <= watts < _INT32:
            raise InvalidInput(f"Power.Active.Import={watts} W: expected less than 2**31 W")
        if (soc := soc_percent(reading)) is not None and not 0 <= soc <= 100:
            raise InvalidInput(f"SoC={soc} %: expected 0 to 100")


class _Metered(Protocol):
    """The totals meter values move: a `ChargingSession`, or a `LiveSession` row."""

    @property
    def id(self) -> int | None: ...
    @property
    def status(self) -> SessionStatus: ...

    meter_start_wh: int
    energy_wh: int
    last_meter_at: datetime | None
    power_w: int | None
    soc_percent: int | None


async def _apply_readings(
    db: AsyncSession,
    *,
    station_id: str,
    evse_id: int | None,
    session: _Metered | None,
    readings: Iterable[MeterReading],
) -> bool:
    """Store every sampled value (one multi-row INSERT); update the session's energy, power
    and SoC. True if the session changed."""
    changed = False
    rows: list[dict[str, Any]] = []
    for reading in sorted(readings, key=lambda r: r.timestamp):
        for value in reading.values:
            rows.append(
                {
                    "session_id": session.id if session else None,
                    "evse_id": evse_id,
                    "station_id": station_id,
                    "sampled_at": reading.timestamp,
                    "measurand": value.measurand[:64],
                    "phase": value.phase,
                    "location": value.location,
                    "context": value.context,
                    "value": value.value,
                    "unit": value.unit[:16],
                }
            )
        if session is None or session.status == SessionStatus.COMPLETED:
            continue
        if session.last_meter_at is not None and reading.timestamp < session.last_meter_at:
            continue  # a late, older reading must not move the totals backwards
        register = energy_register_wh(reading)
        if register is not None:
            if session.last_meter_at is None:
                session.meter_start_wh = register
            session.energy_wh = max(0, register - session.meter_start_wh)
            session.last_meter_at = reading.timestamp
        if (watts := power_w(reading)) is not None:
            session.power_w = watts
        if (soc := soc_percent(reading)) is not None:
            session.soc_percent = soc
        changed = True
    if rows:  # one executemany on the connection: no ORM objects, not the ORM bulk path
        await (await db.connection()).execute(_INSERT_SAMPLES, rows)
    return changed


_INSERT_SAMPLES = sa.insert(MeterSample.__table__)  # type: ignore[attr-defined]


# A charger's clock is trusted within these bounds only: before 2000 it was never set (a start
# there would bill decades of time); an end far ahead of ours is impossible, so ours is used.
EARLIEST_TIMESTAMP = datetime(2000, 1, 1, tzinfo=UTC)
MAX_CLOCK_AHEAD = timedelta(days=1)


def check_clock(name: str, at: datetime) -> None:
    """Refuse (InvalidInput) a transaction timestamp from a charger whose clock was never set."""
    if at < EARLIEST_TIMESTAMP:
        raise InvalidInput(
            f"{name} {at.isoformat()} is before {EARLIEST_TIMESTAMP.date()}: the station's clock "
            "is not set"
        )


def _end(
    session: ChargingSession, *, at: datetime, meter_stop_wh: int | None, reason: str | None
) -> None:
    """End an ACTIVE session. Its end is kept between its start and our clock plus a day."""
    at = max(min(at, datetime.now(UTC) + MAX_CLOCK_AHEAD), session.started_at)
    if meter_stop_wh is not None:
        session.energy_wh = max(0, meter_stop_wh - session.meter_start_wh)
    session.meter_stop_wh = session.meter_start_wh + session.energy_wh
    session.status = SessionStatus.COMPLETED
    session.ended_at = at
    session.stop_reason = reason[:32] if reason else None
    session.power_w = 0


class _Published(Protocol):
    @property
    def id(self) -> int | None: ...
    @property
    def station_id(self) -> str: ...
    @property
    def evse_id(self) -> int: ...
    @property
    def status(self) -> SessionStatus: ...
    @property
    def energy_wh(self) -> int: ...
    @property
    def power_w(self) -> int | None: ...
    @property
    def soc_percent(self) -> int | None: ...
    @property
    def ended_at(self) -> datetime | None: ...


def _session_event(session: _Published) -> dict[str, Any]:
    return {
        "type": "SessionUpdated",
        "session_id": session.id,
        "station_id": session.station_id,
        "evse_id": session.evse_id,
        "status": session.status.value,
        "energy_wh": session.energy_wh,
        "power_w": session.power_w,
        "soc_percent": session.soc_percent,
        "ended_at": session.ended_at.isoformat() if session.ended_at else None,
    }


async def _publish(bus: EventBus, session: _Published | None) -> None:
    if session is not None and session.id is not None:
        await bus.publish(topics.session_updated(session.id), _session_event(session))


async def _publish_lifecycle(bus: EventBus, session: ChargingSession, kind: str) -> None:
    """`SessionStarted` or `SessionEnded` on the network-wide topic (the scheduler listens)."""
    if session.id is not None:
        at = session.ended_at if kind == "SessionEnded" else session.started_at
        await bus.publish(
            topics.ALL_SESSIONS,
            {"type": kind, "session_id": session.id, "station_id": session.station_id,
             "evse_id": session.evse_id, "at": at.isoformat() if at else None},
        )  # fmt: skip


# Built once: every meter value and stop runs it (its cache key is computed once too).
_FIND = select(ChargingSession).where(
    ChargingSession.station_id == sa.bindparam("station_id"),
    ChargingSession.transaction_id == sa.bindparam("transaction_id"),
)


async def _find(db: AsyncSession, station_id: str, transaction_id: str) -> ChargingSession | None:
    params = {"station_id": station_id, "transaction_id": transaction_id}
    return (await db.exec(_FIND, params=params)).first()


def _evse_and_start(*, with_token: bool) -> Any:
    """The station's EVSE numbered :ocpp_evse_id, with the session a retransmitted
    StartTransaction (same token and start time) created on it, if any."""
    evse: Any = Evse.__table__  # type: ignore[attr-defined]
    started: Any = ChargingSession.__table__  # type: ignore[attr-defined]
    token = started.c.id_token
    same_start = sa.and_(
        started.c.evse_id == evse.c.id,
        started.c.station_id == sa.bindparam("station_id"),
        started.c.started_at == sa.bindparam("started_at"),
        token == sa.bindparam("id_token") if with_token else token.is_(None),
    )
    return (
        sa.select(evse.c.id, started.c.id, started.c.transaction_id)
        .select_from(evse.outerjoin(started, same_start))
        .where(
            evse.c.station_id == sa.bindparam("station_id"),
            evse.c.ocpp_evse_id == sa.bindparam("ocpp_evse_id"),
        )
        .limit(1)
    )


_EVSE_AND_START = _evse_and_start(with_token=True)
_EVSE_AND_TOKENLESS_START = _evse_and_start(with_token=False)


async def start_session(
    *,
    session_factory: SessionFactory,
    bus: EventBus,
    station_id: str,
    ocpp_evse_id: int,
    ocpp_connector_id: int = 1,
    id_token: str | None,
    meter_start_wh: int,
    started_at: datetime,
    group: GroupCommit | None = None,
) -> StartedSession:
    """OCPP 1.6 StartTransaction: a new ACTIVE session; its pk is the 1.6 transactionId.

    A retransmission (same station, EVSE, token and start time) returns the session already
    created. A rejected token still gets a session (the spec requires a transactionId; the
    station stops it at once): the answer carries the verdict.
    """
    _check_register("meterStart", meter_start_wh)
    check_clock("timestamp", started_at)

    async def work(
        db: AsyncSession,
    ) -> tuple[StartedSession, ChargingSession | None, command_outcomes.StartLink | None]:
        authorization, token = (
            await _authorize_token(db, id_token, started_at) if id_token else (None, None)
        )
        # The EVSE's id and a retransmission's session in one query, no ORM objects.
        params = {"station_id": station_id, "ocpp_evse_id": ocpp_evse_id}
        params |= {"started_at": started_at, "id_token": id_token}
        statement = _EVSE_AND_START if id_token is not None else _EVSE_AND_TOKENLESS_START
        found = (await (await db.connection()).execute(statement, params)).first()
        if found is None:  # first reported: created, so it has no session to repeat
            evse_id = (
                await get_or_create_evse(db, station_id=station_id, ocpp_evse_id=ocpp_evse_id)
            ).id
            assert evse_id is not None
        else:
            evse_id, existing_id, existing_transaction_id = found
            if existing_id is not None:  # a retransmission
                return (
                    StartedSession(existing_id, existing_transaction_id, authorization),
                    None,
                    None,
                )
        session = ChargingSession(
            station_id=station_id,
            evse_id=evse_id,
            ocpp_connector_id=ocpp_connector_id,
            transaction_id=f"new-{uuid.uuid4().hex}",
            id_token=id_token,
            started_at=started_at,
            meter_start_wh=meter_start_wh,
            last_meter_at=started_at,
        )
        db.add(session)
        await db.flush()
        assert session.id is not None
        session.transaction_id = str(session.id)
        # The session's transactionId, driver and tariff go in one UPDATE at commit: the
        # queries below do not read the session row.
        with db.no_autoflush:
            link = await command_outcomes.link_started_session(
                db, session=session, remote_start_id=None, token_driver_id=_driver_of(token)
            )
            if link is not None and link.late:  # its command timed out: the charger must stop
                authorization = Authorization(AuthorizationStatus.INVALID)
            if authorization is None or authorization.status == AuthorizationStatus.ACCEPTED:
                await mark_used(db, evse_id=evse_id, id_token=id_token, at=started_at)
            await update_live_cost(db, session, new_session=True)  # no samples yet: none read
        return StartedSession(session.id, session.transaction_id, authorization), session, link

    started, session, link = await run_unit(session_factory, group, station_id, work)
    if session is None:  # a retransmission
        return started
    await command_outcomes.publish_link(session_factory, bus, link)
    await _publish(bus, session)
    await _publish_lifecycle(bus, session, "SessionStarted")
    return started


async def stop_session(
    *,
    session_factory: SessionFactory,
    bus: EventBus,
    station_id: str,
    transaction_id: str,
    meter_stop_wh: int | None,
    ended_at: datetime,
    reason: str | None = None,
    id_token: str | None = None,
    readings: tuple[MeterReading, ...] = (),
    group: GroupCommit | None = None,
) -> Authorization | None:
    """OCPP 1.6 StopTransaction. A repeat for a completed or unknown session changes nothing.

    A meterStop below the session's meterStart (a meter fault or a swapped meter) still ends
    the session: the charger has already stopped, and refusing the message would leave it open
    (and its payment hold uncaptured) once the charger gives up retrying. The energy stays what
    the meter values had shown, and a METER_REGISTER_BACKWARDS alert tells the operator.
    """
    if meter_stop_wh is not None:
        _check_register("meterStop", meter_stop_wh)
    check_readings(readings)

    alert_events: list[Event] = []

    async def work(db: AsyncSession) -> tuple[Authorization | None, ChargingSession | None]:
        alert_events.clear()  # a batch that failed reruns this unit alone
        authorization = await _authorize(db, id_token, ended_at) if id_token else None
        session = await _find(db, station_id, transaction_id)
        if session is None or session.status == SessionStatus.COMPLETED:
            return authorization, None
        await _apply_readings(
            db, station_id=station_id, evse_id=session.evse_id, session=session, readings=readings
        )
        stop_wh = meter_stop_wh
        if stop_wh is not None and stop_wh < session.meter_start_wh:
            raised = await alerts.raise_alert(
                db, station_id=station_id, evse_id=session.evse_id,
                code=AlertCode.METER_REGISTER_BACKWARDS, severity=AlertSeverity.MAJOR,
                source=AlertSource.MONITOR, at=ended_at,
                info=f"transaction {transaction_id}: meterStop={stop_wh} Wh is below "
                f"meterStart={session.meter_start_wh} Wh; ended with the "
                f"{session.energy_wh} Wh the meter values showed",
            )  # fmt: skip
            alert_events.extend([raised] if raised is not None else [])
            stop_wh = None  # keep the energy the meter values showed
        _end(session, at=ended_at, meter_stop_wh=stop_wh, reason=reason)
        session.updated_at = datetime.now(UTC)
        await update_session_price(db, session)  # the CDR, in the transaction that ends it
        return authorization, session

    authorization, session = await run_unit(session_factory, group, station_id, work)
    if session is None:
        return authorization
    await alerts.publish(bus, alert_events)
    await _publish(bus, session)
    await _publish_lifecycle(bus, session, "SessionEnded")
    return authorization


async def record_meter_values(
    *,
    session_factory: SessionFactory,
    bus: EventBus,
    station_id: str,
    ocpp_evse_id: int | None,
    transaction_id: str | None,
    readings: tuple[MeterReading, ...],
    group: GroupCommit | None = None,
) -> None:
    """Store meter readings of an EVSE (None: the station's main meter), for a session if given."""
    check_readings(readings)

    async def work(db: AsyncSession) -> tuple[_Published | None, bool]:
        if transaction_id:  # the usual case: the session's row in, its totals out, no ORM
            live = await live_sessions.find(
                db, station_id=station_id, transaction_id=transaction_id
            )
            if live is not None and live.currency is not None:  # its tariff is attached
                changed = await _apply_readings(
                    db, station_id=station_id, evse_id=live.evse_id, session=live,
                    readings=readings,
                )  # fmt: skip
                if changed:
                    await price_so_far(db, live)
                    await live_sessions.write(db, live, updated_at=datetime.now(UTC))
                return live, changed
        session = await _find(db, station_id, transaction_id) if transaction_id else None
        evse_id: int | None = session.evse_id if session else None
        if evse_id is None and ocpp_evse_id:
            evse = await get_or_create_evse(db, station_id=station_id, ocpp_evse_id=ocpp_evse_id)
            evse_id = evse.id
        changed = await _apply_readings(
            db, station_id=station_id, evse_id=evse_id, session=session, readings=readings
        )
        if session is not None and changed:
            session.updated_at = datetime.now(UTC)
            await update_session_price(db, session)
        return session, changed

    session, changed = await run_unit(session_factory, group, station_id, work)
    if changed:
        await _publish(bus, session)


async def apply_transaction_event(
    *,
    session_factory: SessionFactory,
    bus: EventBus,
    station_id: str,
    event: TransactionEventData,
    group: GroupCommit | None = None,
) -> Authorization | None:
    """OCPP 2.0.1 TransactionEvent. The charger's transactionId names the session.

    An event whose seqNo is not above the last applied one is a retransmission and changes
    nothing; so does anything after the session ended. A session whose Started event was lost
    is created by the first event that names its EVSE.
    """
    check_readings(event.readings)
    check_clock("timestamp", event.timestamp)

    async def work(
        db: AsyncSession,
    ) -> tuple[
        Authorization | None, ChargingSession | None, command_outcomes.StartLink | None, bool
    ]:
        authorization, token = (
            await _authorize_token(db, event.id_token, event.timestamp)
            if event.id_token
            else (None, None)
        )
        session = await _find(db, station_id, event.transaction_id)
        link: command_outcomes.StartLink | None = None
        created = session is None
        if session is not None and (
            session.status == SessionStatus.COMPLETED
            or (session.last_seq_no is not None and event.seq_no <= session.last_seq_no)
        ):
            return authorization, None, None, False
        if session is None:
            if event.ocpp_evse_id is None:
                raise InvalidInput(
                    f"TransactionEvent {event.event_type} for unknown transaction "
                    f"{event.transaction_id!r} has no evse: expected evse.id on the first event"
                )
            evse = await get_or_create_evse(
                db, station_id=station_id, ocpp_evse_id=event.ocpp_evse_id
            )
            assert evse.id is not None
            session = ChargingSession(
                station_id=station_id,
                evse_id=evse.id,
                ocpp_connector_id=event.ocpp_connector_id or 1,
                transaction_id=event.transaction_id[:36],
                id_token=event.id_token,
                started_at=event.timestamp,
            )
            db.add(session)
            await db.flush()
            link = await command_outcomes.link_started_session(
                db,
                session=session,
                remote_start_id=event.remote_start_id,
                token_driver_id=_driver_of(token),
            )
            if link is not None and link.late:  # its command timed out: the charger must stop
                authorization = Authorization(AuthorizationStatus.INVALID)
            if authorization is None or authorization.status == AuthorizationStatus.ACCEPTED:
                await mark_used(
                    db,
                    evse_id=evse.id,
                    id_token=event.id_token,
                    reservation_id=event.reservation_id,
                    at=event.timestamp,
                )
        if session.id_token is None and event.id_token:
            session.id_token = event.id_token
        session.last_seq_no = event.seq_no
        await _apply_readings(
            db,
            station_id=station_id,
            evse_id=session.evse_id,
            session=session,
            readings=event.readings,
        )
        if event.event_type == TransactionEventType.ENDED:
            _end(session, at=event.timestamp, meter_stop_wh=None, reason=event.stopped_reason)
        session.updated_at = datetime.now(UTC)
        if created and not event.readings and event.event_type != TransactionEventType.ENDED:
            await update_live_cost(db, session, new_session=True)  # no samples yet: none read
        else:
            await update_session_price(db, session)  # tariff, cost so far, or the CDR at the end
        return authorization, session, link, created

    authorization, session, link, created = await run_unit(session_factory, group, station_id, work)
    if session is None:  # a retransmission, or after the end
        return authorization
    await command_outcomes.publish_link(session_factory, bus, link)
    await _publish(bus, session)
    if created:
        await _publish_lifecycle(bus, session, "SessionStarted")
    if event.event_type == TransactionEventType.ENDED:
        await _publish_lifecycle(bus, session, "SessionEnded")
    return authorization
