"""What the EV says it needs (OCPP 2.0.1 NotifyEVChargingNeeds): energy and departure."""

from datetime import datetime

from sqlmodel import col, select

from app.db.engine import SessionFactory
from app.db.models import ChargingSession, Evse
from app.domain.enums import SessionStatus
from app.domain.errors import InvalidInput
from app.events import EventBus, topics


async def record_charging_needs(
    *,
    session_factory: SessionFactory,
    bus: EventBus,
    station_id: str,
    ocpp_evse_id: int,
    energy_wh: int | None,
    departure_at: datetime | None,
) -> bool:
    """Fill the active session's wanted energy and departure from the EV's charging needs.

    What the driver gave at `startSession` wins (the driver knows when they leave); the EV's
    figures fill what the driver left empty. Returns False when the EVSE has no active session
    (the station is told Rejected). The scheduler hears of it on the network-wide session topic
    and recomputes at once.
    """
    if energy_wh is not None and energy_wh < 0:
        raise InvalidInput(f"energyAmount={energy_wh}: expected Wh >= 0")
    async with session_factory() as db:
        session = (
            await db.exec(
                select(ChargingSession)
                .join(Evse, col(Evse.id) == col(ChargingSession.evse_id))
                .where(
                    ChargingSession.station_id == station_id,
                    Evse.ocpp_evse_id == ocpp_evse_id,
                    ChargingSession.status == SessionStatus.ACTIVE,
                )
                .order_by(col(ChargingSession.started_at).desc())
            )
        ).first()
        if session is None:
            return False
        changed = False
        if session.requested_energy_wh is None and energy_wh is not None:
            session.requested_energy_wh = energy_wh
            changed = True
        if session.departure_at is None and departure_at is not None:
            session.departure_at = departure_at
            changed = True
        if changed:
            db.add(session)
            await db.commit()
    if changed:
        await bus.publish(
            topics.ALL_SESSIONS,
            {"type": "SessionNeedsChanged", "session_id": session.id, "station_id": station_id,
             "evse_id": session.evse_id, "at": None},
        )  # fmt: skip
    return True
