"""EVSE availability: store status changes reported by stations and publish them on the bus."""

from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.engine import SessionFactory
from app.db.models import Alert, ChargingStation, Evse
from app.domain.alerts import AlertSource
from app.domain.enums import EvseStatus
from app.domain.errors import NotFound
from app.events import EventBus, topics
from app.services import alerts, health_history
from app.services.alerts import Event
from app.services.group_commit import GroupCommit, run_unit
from app.services.stations import get_or_create_evse

# A station-wide report (OCPP 1.6 connectorId 0) only says something about every EVSE when the
# whole station is out of service; "Available" for the controller does not free busy EVSEs.
_STATION_WIDE = frozenset({EvseStatus.INOPERATIVE, EvseStatus.OUTOFORDER})


class _EvseState(NamedTuple):
    """What a status change reads of an EVSE; `held` is its ORM object when this transaction
    has one (its unflushed state wins over a Core UPDATE, so the change goes through it)."""

    id: int
    uid: str
    status: EvseStatus
    error_code: str | None
    open_alerts: bool
    held: Evse | None = None


_EVSE: Any = Evse.__table__  # type: ignore[attr-defined]
_STATION: Any = ChargingStation.__table__  # type: ignore[attr-defined]
_ALERT: Any = Alert.__table__  # type: ignore[attr-defined]


def _evses_statement(*, one: bool) -> Any:
    """The station's EVSEs (or the one numbered :ocpp_evse_id), its location, and whether each
    has an open status alert (the alerts `track_status` resolves): one read, no ORM objects."""
    open_alerts = (
        sa.exists()
        .where(
            _ALERT.c.station_id == _EVSE.c.station_id,
            _ALERT.c.evse_id == _EVSE.c.id,
            _ALERT.c.source == AlertSource.STATUS,
            _ALERT.c.open_key.is_not(None),
        )
        .label("open_alerts")
    )
    statement = (
        sa.select(
            _EVSE.c.id,
            _EVSE.c.uid,
            _EVSE.c.status,
            _EVSE.c.error_code,
            open_alerts,
            _STATION.c.location_id,
        )
        .select_from(_EVSE.join(_STATION, _STATION.c.id == _EVSE.c.station_id))
        .where(_EVSE.c.station_id == sa.bindparam("station_id"))
    )
    if one:
        return statement.where(_EVSE.c.ocpp_evse_id == sa.bindparam("ocpp_evse_id"))
    return statement.order_by(_EVSE.c.id)


# Built once: every StatusNotification runs them.
_ONE_EVSE = _evses_statement(one=True)
_ALL_EVSES = _evses_statement(one=False)
_WRITE_STATUS = (
    sa.update(_EVSE)
    .where(_EVSE.c.id == sa.bindparam("evse_pk"))
    .values(
        status=sa.bindparam("new_status", type_=_EVSE.c.status.type),
        error_code=sa.bindparam("new_error_code", type_=_EVSE.c.error_code.type),
        status_updated_at=sa.bindparam("new_at", type_=_EVSE.c.status_updated_at.type),
    )
)


async def _read_evses(
    db: AsyncSession, *, station_id: str, ocpp_evse_id: int | None
) -> tuple[list[_EvseState], int | None]:
    """The EVSEs a report is about and their location id. An EVSE the database does not know
    yet is created (the ORM way: rare)."""
    connection = await db.connection()
    if ocpp_evse_id is None:
        found = await connection.execute(_ALL_EVSES, {"station_id": station_id})
    else:
        params = {"station_id": station_id, "ocpp_evse_id": ocpp_evse_id}
        found = await connection.execute(_ONE_EVSE, params)
    rows = found.all()
    if rows:
        states = []
        for evse_id, uid, status, error_code, open_alerts, _ in rows:
            held = None
            if db.identity_key(Evse, evse_id) in db.identity_map:
                held = await db.get(Evse, evse_id)  # from the identity map: no query
            if held is not None:  # its state, flushed or not
                status, error_code = held.status, held.error_code
            states.append(_EvseState(evse_id, uid, status, error_code, open_alerts, held))
        return states, rows[0][-1]
    station = await db.get(ChargingStation, station_id)
    if station is None:
        raise NotFound("ChargingStation", station_id)
    if ocpp_evse_id is None:
        return [], station.location_id  # a station without EVSEs
    evse = await get_or_create_evse(db, station_id=station_id, ocpp_evse_id=ocpp_evse_id)
    assert evse.id is not None
    state = _EvseState(evse.id, evse.uid, evse.status, evse.error_code, True, evse)
    return [state], station.location_id


async def _write_status(
    db: AsyncSession, evse: _EvseState, *, status: EvseStatus, error_code: str | None, at: datetime
) -> None:
    if evse.held is not None:
        evse.held.status = status
        evse.held.error_code = error_code
        evse.held.status_updated_at = at
        return
    params = {"evse_pk": evse.id, "new_status": status, "new_error_code": error_code}
    params["new_at"] = at
    await (await db.connection()).execute(_WRITE_STATUS, params)


async def record_status(
    *,
    session_factory: SessionFactory,
    bus: EventBus,
    station_id: str,
    ocpp_evse_id: int | None,
    status: EvseStatus,
    error_code: str | None = None,
    at: datetime,
    vendor_error_code: str | None = None,
    vendor_info: str | None = None,
    group: GroupCommit | None = None,
) -> list[dict[str, Any]]:
    """Write the status of one EVSE (or of all when `ocpp_evse_id` is None) and publish changes.

    An EVSE the station reports but the database does not know yet is created. Only real changes
    (a different status or error code) are written and published, each on the location's topic
    and on `topics.ALL_EVSE_STATUS`. Returns the published events. With `group`, the write
    shares a transaction with other stations' messages (see `group_commit`).
    """

    async def work(db: AsyncSession) -> tuple[list[Event], list[Event], int | None]:
        events: list[Event] = []
        alert_events: list[Event] = []  # status history and alerts commit with the status
        if ocpp_evse_id is None and status not in _STATION_WIDE:
            return [], [], None
        evses, location_id = await _read_evses(db, station_id=station_id, ocpp_evse_id=ocpp_evse_id)
        for evse in evses:
            if evse.status == status and evse.error_code == error_code:
                continue
            events.append(
                topics.evse_status_event(
                    location_id=location_id,
                    station_id=station_id,
                    evse_id=evse.id,
                    evse_uid=evse.uid,
                    status=status.value,
                    previous_status=evse.status.value,
                    error_code=error_code,
                    changed_at=at,
                )
            )
            await _write_status(db, evse, status=status, error_code=error_code, at=at)
            alert_events += await health_history.track_status(
                db, station_id=station_id, evse_id=evse.id, evse_uid=evse.uid, status=status,
                error_code=error_code, at=at, vendor_error_code=vendor_error_code,
                vendor_info=vendor_info, open_alerts=evse.open_alerts,
            )  # fmt: skip
        return events, alert_events, location_id

    events, alert_events, location_id = await run_unit(session_factory, group, station_id, work)
    for event in events:
        await bus.publish(topics.evse_status(location_id), event)
        await bus.publish(topics.ALL_EVSE_STATUS, event)
    await alerts.publish(bus, alert_events)
    return events
