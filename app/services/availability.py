"""EVSE availability: store status changes reported by stations and publish them on the bus."""

from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.engine import SessionFactory
from app.db.models import ChargingStation, Evse
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
        known = None
        if ocpp_evse_id is not None:  # the usual case: the EVSE and its location in one query
            known = (
                await db.exec(
                    select(Evse, ChargingStation.location_id)
                    .join(ChargingStation, col(ChargingStation.id) == col(Evse.station_id))
                    .where(Evse.station_id == station_id, Evse.ocpp_evse_id == ocpp_evse_id)
                )
            ).first()
        if known is not None:
            evses, location_id = [known[0]], known[1]
        else:
            station = await db.get(ChargingStation, station_id)
            if station is None:
                raise NotFound("ChargingStation", station_id)
            location_id = station.location_id
            if ocpp_evse_id is None:
                statement = select(Evse).where(Evse.station_id == station_id)
                evses = list((await db.exec(statement)).all())
            else:
                evse = await get_or_create_evse(
                    db, station_id=station_id, ocpp_evse_id=ocpp_evse_id
                )
                evses = [evse]
        for evse in evses:
            if evse.status == status and evse.error_code == error_code:
                continue
            assert evse.id is not None
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
            evse.status = status
            evse.error_code = error_code
            evse.status_updated_at = at
            alert_events += await health_history.track_status(
                db, station_id=station_id, evse=evse, status=status, error_code=error_code, at=at,
                vendor_error_code=vendor_error_code, vendor_info=vendor_info,
            )  # fmt: skip
        return events, alert_events, location_id

    events, alert_events, location_id = await run_unit(session_factory, group, station_id, work)
    for event in events:
        await bus.publish(topics.evse_status(location_id), event)
        await bus.publish(topics.ALL_EVSE_STATUS, event)
    await alerts.publish(bus, alert_events)
    return events
