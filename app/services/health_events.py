"""2.0.1 NotifyEvent reports turned into alerts (raised, or resolved when cleared)."""

from collections.abc import Sequence

from sqlmodel import select

from app.db.engine import SessionFactory
from app.db.models import Evse
from app.domain.alerts import AlertSource, DeviceEvent
from app.events import EventBus
from app.services.alerts import Event, clear_alerts, publish, raise_alert


async def record_device_events(
    *,
    session_factory: SessionFactory,
    bus: EventBus,
    station_id: str,
    events: Sequence[DeviceEvent],
) -> list[Event]:
    """Turn a 2.0.1 NotifyEvent into alerts: raise problems, resolve the ones cleared."""
    published: list[Event] = []
    async with session_factory() as db:
        evse_ids: dict[int, int | None] = {}
        for event in events:
            evse_id = None
            if event.ocpp_evse_id:
                if event.ocpp_evse_id not in evse_ids:
                    evse_ids[event.ocpp_evse_id] = (
                        await db.exec(
                            select(Evse.id).where(
                                Evse.station_id == station_id,
                                Evse.ocpp_evse_id == event.ocpp_evse_id,
                            )
                        )
                    ).first()
                evse_id = evse_ids[event.ocpp_evse_id]
            if event.cleared:
                published += await clear_alerts(
                    db,
                    station_id=station_id,
                    evse_id=evse_id,
                    source=AlertSource.DEVICE_EVENT,
                    codes=[event.code],
                    at=event.timestamp,
                )
                continue
            info = f"{event.trigger}: {event.actual_value}"
            if event.tech_info:
                info += f" ({event.tech_info})"
            raised = await raise_alert(
                db,
                station_id=station_id,
                evse_id=evse_id,
                code=event.code,
                severity=event.severity,
                source=AlertSource.DEVICE_EVENT,
                at=event.timestamp,
                vendor_error_code=event.tech_code,
                info=info,
            )
            if raised is not None:
                published.append(raised)
        await db.commit()
    await publish(bus, published)
    return published
