"""Reservations: a driver holds an EVSE for a few minutes (OCPP ReserveNow / CancelReservation).

Life of a reservation: PENDING (created, ReserveNow sent) → ACTIVE (the station accepted) →
USED (the driver started charging on it) | CANCELLED (the driver, or no answer) | EXPIRED (the
backend's expiry sweep). A station's refusal makes it REJECTED. The EVSE shows RESERVED only
through the station's own StatusNotification: the backend never writes that status itself.

The backend owns expiry (`app.services.reservation_lifecycle`): it does not rely on the station's
own timer.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, or_
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.engine import SessionFactory
from app.db.models import ChargingSession, Driver, Evse, IdToken, Reservation
from app.domain.commands import CancelReservation, CommandStatus, ReserveNow
from app.domain.enums import AuthorizationStatus, IdTokenType, SessionStatus
from app.domain.errors import InvalidInput, NotFound, StationNotConnected
from app.domain.reservations import (
    HOLDING,
    MAX_MINUTES,
    MIN_MINUTES,
    EvseUnavailable,
    ReservationLimitReached,
    ReservationStatus,
    unavailable_reason,
)
from app.services.ports import StationCommander

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReserveOutcome:
    """The reservation after the station's answer; `answer` is the station's own status string
    (Accepted, Occupied, Faulted, Unavailable, Rejected), None when it did not answer."""

    reservation: Reservation
    answer: str | None
    timed_out: bool = False


def _holds(at: datetime) -> list[ColumnElement[bool]]:
    """Conditions of a reservation that holds its EVSE at `at`."""
    return [col(Reservation.status).in_(list(HOLDING)), col(Reservation.expires_at) > at]


async def set_status(
    db: AsyncSession, reservation_id: int, status: ReservationStatus, *, only_from: Sequence[str]
) -> bool:
    """Move a reservation to `status` if it is still in one of `only_from` (race-safe)."""
    result = await db.exec(
        update(Reservation)
        .where(col(Reservation.id) == reservation_id, col(Reservation.status).in_(only_from))
        .values(status=status.value, updated_at=datetime.now(UTC))
    )
    return bool(result.rowcount)


async def _app_token(db: AsyncSession, driver_id: int) -> str:
    token = (
        await db.exec(
            select(IdToken)
            .where(
                IdToken.driver_id == driver_id,
                IdToken.type == IdTokenType.APP,
                IdToken.status == AuthorizationStatus.ACCEPTED,
            )
            .order_by(col(IdToken.id))
        )
    ).first()
    if token is None:
        raise NotFound("app IdToken of driver", driver_id)
    return token.uid


async def _create_pending(
    *,
    session_factory: SessionFactory,
    commander: StationCommander,
    driver_id: int,
    evse_id: int,
    minutes: int,
    now: datetime,
) -> tuple[Reservation, Evse]:
    async with session_factory() as db:
        # Lock the driver row so two concurrent reservations of one driver serialise (PostgreSQL).
        driver = (
            await db.exec(select(Driver).where(Driver.id == driver_id).with_for_update())
        ).first()
        if driver is None:
            raise NotFound("Driver", driver_id)
        evse = await db.get(Evse, evse_id)
        if evse is None:
            raise NotFound("Evse", evse_id)
        held = (
            await db.exec(
                select(Reservation).where(Reservation.driver_id == driver_id, *_holds(now))
            )
        ).first()
        if held is not None:
            assert held.id is not None
            raise ReservationLimitReached(held.id)
        charging = (
            await db.exec(
                select(ChargingSession.id).where(
                    ChargingSession.evse_id == evse_id,
                    ChargingSession.status == SessionStatus.ACTIVE,
                )
            )
        ).first()
        other = (
            await db.exec(
                select(Reservation.id).where(Reservation.evse_id == evse_id, *_holds(now))
            )
        ).first()
        reason = unavailable_reason(
            online=commander.is_connected(evse.station_id),
            status=evse.status,
            charging=charging is not None,
            reserved=other is not None,
        )
        if reason is not None:
            raise EvseUnavailable(evse_id, reason)
        reservation = Reservation(
            driver_id=driver_id,
            evse_id=evse_id,
            id_token=await _app_token(db, driver_id),
            status=ReservationStatus.PENDING.value,
            expires_at=now + timedelta(minutes=minutes),
            created_at=now,
            updated_at=now,
        )
        db.add(reservation)
        await db.commit()
        await db.refresh(reservation)
        return reservation, evse


async def reserve_evse(
    *,
    session_factory: SessionFactory,
    commander: StationCommander,
    driver_id: int,
    evse_id: int,
    minutes: int,
    now: datetime | None = None,
    timeout_s: float | None = None,
) -> ReserveOutcome:
    """Reserve an EVSE for `minutes` (1..60) and wait for the station's ReserveNow answer.

    Raises `InvalidInput`, `NotFound` (EVSE), `ReservationLimitReached` (one holding reservation
    per driver) or `EvseUnavailable` (offline, out of order, occupied, reserved). Otherwise the
    outcome's reservation is ACTIVE (accepted), REJECTED (refused: see `answer`), or CANCELLED
    when the station did not answer within the command timeout.
    """
    if not MIN_MINUTES <= minutes <= MAX_MINUTES:
        raise InvalidInput(f"minutes={minutes}: expected {MIN_MINUTES} to {MAX_MINUTES}")
    now = now or datetime.now(UTC)
    reservation, evse = await _create_pending(
        session_factory=session_factory,
        commander=commander,
        driver_id=driver_id,
        evse_id=evse_id,
        minutes=minutes,
        now=now,
    )
    assert reservation.id is not None
    command = ReserveNow(
        ocpp_evse_id=evse.ocpp_evse_id,
        id_token=reservation.id_token,
        reservation_id=reservation.id,
        expires_at=reservation.expires_at,
    )
    try:
        outcome = await commander.send(evse.station_id, command, timeout_s=timeout_s)
        status, answer = outcome.status, outcome.detail.get("status")
    except StationNotConnected:  # it went away since the check: as good as no answer
        status, answer = CommandStatus.TIMEOUT, None
    timed_out = status == CommandStatus.TIMEOUT
    if status == CommandStatus.ACCEPTED:
        target = ReservationStatus.ACTIVE
    elif timed_out:
        target = ReservationStatus.CANCELLED
    else:
        target = ReservationStatus.REJECTED
    async with session_factory() as db:
        moved = await set_status(db, reservation.id, target, only_from=[ReservationStatus.PENDING])
        await db.commit()
        fresh = await db.get(Reservation, reservation.id)
        assert fresh is not None
    if not moved and status == CommandStatus.ACCEPTED:
        # Cancelled while the station was answering: release the hold it just accepted.
        await send_cancel(commander, evse.station_id, reservation.id, timeout_s=timeout_s)
    return ReserveOutcome(fresh, str(answer) if answer else None, timed_out)


async def send_cancel(
    commander: StationCommander, station_id: str, reservation_id: int, *, timeout_s: float | None
) -> None:
    """Best effort: a station that is gone or refuses (already expired there) changes nothing."""
    if not commander.is_connected(station_id):
        return
    try:
        outcome = await commander.send(
            station_id, CancelReservation(reservation_id=reservation_id), timeout_s=timeout_s
        )
    except StationNotConnected:
        return
    if outcome.status != CommandStatus.ACCEPTED:
        log.info(
            "station %s: CancelReservation %d answered %s", station_id, reservation_id, outcome
        )


async def get_own_reservation(
    *, session_factory: SessionFactory, driver_id: int, reservation_id: int
) -> Reservation:
    """The driver's reservation; another driver's is `NotFound` too (its existence stays hidden)."""
    async with session_factory() as db:
        reservation = await db.get(Reservation, reservation_id)
    if reservation is None or reservation.driver_id != driver_id:
        raise NotFound("Reservation", reservation_id)
    return reservation


async def cancel_reservation(
    *,
    session_factory: SessionFactory,
    commander: StationCommander,
    driver_id: int,
    reservation_id: int,
    now: datetime | None = None,
    timeout_s: float | None = None,
) -> Reservation:
    """Cancel the driver's reservation and tell the station (CancelReservation).

    Idempotent: a CANCELLED one is returned as is. An EXPIRED, USED or REJECTED one (or an
    ACTIVE one past its expiry) is returned unchanged: the caller reads its status.
    """
    now = now or datetime.now(UTC)
    reservation = await get_own_reservation(
        session_factory=session_factory, driver_id=driver_id, reservation_id=reservation_id
    )
    if reservation.status not in HOLDING:
        return reservation
    # Past its expiry but not swept yet: it expired, whatever the sweep's timing.
    target = (
        ReservationStatus.EXPIRED if reservation.expires_at <= now else ReservationStatus.CANCELLED
    )
    async with session_factory() as db:
        moved = await set_status(db, reservation_id, target, only_from=list(HOLDING))
        await db.commit()
        evse = await db.get(Evse, reservation.evse_id)
    if moved and evse is not None:
        await send_cancel(commander, evse.station_id, reservation_id, timeout_s=timeout_s)
    async with session_factory() as db:
        fresh = await db.get(Reservation, reservation_id)
    assert fresh is not None
    return fresh


async def list_reservations(
    *, session_factory: SessionFactory, driver_id: int, active: bool | None = None
) -> list[Reservation]:
    """The driver's reservations, newest first; `active` keeps only those holding (or not)."""
    now = datetime.now(UTC)
    statement = select(Reservation).where(Reservation.driver_id == driver_id)
    if active is True:
        statement = statement.where(*_holds(now))
    elif active is False:
        statement = statement.where(
            or_(col(Reservation.status).not_in(list(HOLDING)), col(Reservation.expires_at) <= now)
        )
    statement = statement.order_by(col(Reservation.created_at).desc(), col(Reservation.id).desc())
    async with session_factory() as db:
        return list((await db.exec(statement)).all())
