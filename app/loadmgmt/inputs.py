"""What the scheduler assumes of a session: energy still wanted, departure, the EV's max rate."""

from datetime import datetime, timedelta

from app.domain.allocation import MIN_PILOT_A
from app.loadmgmt.decisions import Demand
from app.services.capacity_state import ActiveSession
from app.settings import Settings

#: An EV drawing less than this share of its limit is taken to be at its own maximum.
UNDER_DRAW = 0.8
#: Headroom over an under-drawing EV's measured power, so it can show it wants more.
EV_HEADROOM = 1.25


def demand_of(
    session: ActiveSession,
    *,
    now: datetime,
    settings: Settings,
    held_a: float | None,
    voltage_v: float,
) -> Demand:
    """The allocator's view of one session.

    Energy: what the driver asked for minus what was delivered, else the operator default
    (a session that said nothing keeps wanting it). Departure: the driver's, else start plus
    the default stay. EV max: the default, unless meter values show the EV drawing well under
    the limit it holds, in which case it is taken at what it draws (plus headroom), so its
    unused share goes to others.
    """
    if session.requested_energy_wh is not None:
        energy_wh = max(0, session.requested_energy_wh - session.energy_wh)
    else:
        energy_wh = settings.loadmgmt_default_energy_wh
    departure = session.departure_at or session.started_at + timedelta(
        seconds=settings.loadmgmt_default_dwell_s
    )
    ev_max_w = float(settings.loadmgmt_default_ev_max_w)
    if held_a and session.power_w is not None and session.power_w < UNDER_DRAW * held_a * voltage_v:
        ev_max_w = max(session.power_w * EV_HEADROOM, MIN_PILOT_A * voltage_v)
    return Demand(
        session_id=session.session_id,
        evse_id=session.evse_id,
        energy_wh=energy_wh,
        departure_in_s=(departure - now).total_seconds(),
        ev_max_w=ev_max_w,
        priority=session.priority,
    )
