"""Deadline- and phase-aware allocation of pilot currents under phasor constraints.

One call decides the pilots for the next period:

1. Each session gets a ceiling: the EVSE's and the EV's limits, and no more than the current
   that would finish its remaining energy within the period (a pilot above what the EV will
   draw only wastes capacity that constraints count).
2. Sessions are ranked by priority, then least laxity (periods left before the announced
   departure minus periods needed at full rate), then earliest departure.
3. In that order each session is raised towards the rate it needs to finish by its departure
   (remaining energy spread evenly over the time left), so that every session stays on
   track before anyone charges ahead of need (on an EVSE with steps, the step below that rate
   on single-phase sites, the step above on multi-phase ones).
4. Then each session is raised as far as its ceiling and the headroom of every constraint it
   is in allow (work-conserving fill), in rank order. On multi-phase sites both passes take
   sessions from each phase angle in turn, so that one phase pair does not saturate the lines
   it shares with the others while the rest stay idle. The headroom of a phasor constraint
   for one EVSE is found exactly, by solving a quadratic in the increment.
5. Pilots are kept on the EVSE's steps (rounded down) and a pilot that cannot reach 6 A
   (or the EVSE's minimum) stays 0. A grant that would leave a remainder the EV could only
   take with a pilot below 6 A is trimmed so that 6 A is left: otherwise the last period
   holds a 6 A pilot for less current than that, and the constraints count the whole pilot.
   On single-phase sites, a waiting session whose headroom is a few amps short of 6 A is
   started by lowering a less urgent running session by that much, so the leftover below 6 A
   is not wasted (unless the pair would draw less in all, as a stepped donor can). A final
   check recomputes every constraint from scratch and lowers pilots, least urgent first, if
   arithmetic ever left one exceeded.

Cost is linear in the number of (EVSE, constraint) memberships plus a sort: constraints that
share no EVSE never touch each other's state, so a fleet of independent sites costs the sum of
its sites. The loops are written out flat, over lists indexed by EVSE rather than per-session
objects, because a fleet call handles ten thousand sessions (see fill.py).
"""

import math
from collections.abc import Sequence

from app.domain.allocation.fill import Demands, ceil_step, fill, floor_step
from app.domain.allocation.model import Constraint, EvseSpec, SessionDemand
from app.domain.allocation.network import Network, compile_network
from app.domain.allocation.uncongested import unconstrained_pilots
from app.domain.errors import InvalidInput


def allocate(
    *,
    sessions: Sequence[SessionDemand],
    now: int,
    period_s: float,
    evses: Sequence[EvseSpec] = (),
    constraints: Sequence[Constraint] = (),
    network: Network | None = None,
) -> dict[str, float]:
    """Pilot current in amps for every EVSE for the period starting at `now`.

    Give either `evses` and `constraints`, or a `network` compiled from them once with
    `compile_network`. EVSEs without a session get 0. The result never exceeds a constraint,
    never holds a pilot between 0 and 6 A, and keeps every pilot on its EVSE's accepted values
    and within what the EV can take.
    """
    if not period_s > 0:
        raise InvalidInput(f"period_s={period_s}, expected > 0")
    net = network if network is not None else compile_network(evses, constraints)
    return dict(zip(net.ids, solve(net, sessions, now=now, period_s=period_s), strict=True))


def solve(
    net: Network, sessions: Sequence[SessionDemand], *, now: int, period_s: float
) -> list[float]:
    """`allocate`'s pilots as a list indexed like `net.evses` (`period_s` > 0 is the caller's)."""
    d = _demands(net, sessions, now=now, period_s=period_s)
    # A site with room for every session's ceiling needs no fill passes (same pilots, exact).
    pilots = unconstrained_pilots(net, d)
    return fill(net, d) if pilots is None else pilots


def _demands(
    net: Network, sessions: Sequence[SessionDemand], *, now: int, period_s: float
) -> Demands:
    """Steps 1 and 2: each session's ceiling and on-track rate, and the rank order."""
    n = len(net.evses)
    d = Demands(n)
    order, cap_of, on_track_of, need_of, trim_of = d.order, d.cap, d.on_track, d.need, d.trim
    laxity = [0.0] * n
    left = [0.0] * n
    priority: list[float] | None = None
    seen = [False] * n
    index, steps_a, amps_per_w = net.index, net.steps_a, net.amps_per_w
    min_on_a, max_on_a = net.min_on_a, net.max_on_a
    floor_table, ceil_table, single_phase = net.floor_table, net.ceil_table, net.single_phase
    screen_coeffs = net.screen_coeffs
    screen_load = 0.0
    ceil = math.ceil
    amp_periods_per_wh = 3600.0 / period_s
    for session in sessions:
        i = index.get(session.evse_id)
        if i is None:
            raise InvalidInput(f"session on unknown EVSE {session.evse_id!r}")
        if seen[i]:
            raise InvalidInput(f"two sessions on EVSE {session.evse_id!r}, expected at most one")
        seen[i] = True
        per_w = amps_per_w[i]
        need_a = session.energy_wh * amp_periods_per_wh * per_w
        if need_a <= 0.0:
            continue
        hard = session.max_power_w * per_w
        if hard > max_on_a[i]:
            hard = max_on_a[i]
        floor = min_on_a[i]
        departure_in_s = session.departure_in_s
        if departure_in_s is not None:
            periods_left = departure_in_s / period_s
        else:
            periods_left = float((session.departure_period or 0) - now)
        steps = steps_a[i]
        if steps is None:
            if hard < floor:
                continue
            cap = hard if need_a >= hard else need_a if need_a > floor else floor
            on_track = need_a / periods_left if periods_left > 1.0 else need_a
            if on_track >= cap:
                on_track = cap
            elif on_track < floor:
                on_track = floor
            trim_of[i] = periods_left >= 2.0
        else:
            # Whole-amp steps: a table index rather than a bisection (see Network.floor_table).
            down = floor_table[i]
            if down is None:
                hard = floor_step(steps, hard)
            else:
                n_a = int(hard + 1e-9)
                hard = down[n_a] if n_a < len(down) else down[-1]
            if hard < floor:
                continue
            up = ceil_table[i]
            if need_a >= hard:
                cap = hard
            elif up is None:
                cap = ceil_step(steps, need_a)
            else:
                n_a = ceil(need_a - 1e-9)
                cap = up[n_a] if n_a < len(up) else up[-1]
            on_track = need_a / periods_left if periods_left > 1.0 else need_a
            if on_track >= cap:
                on_track = cap
            elif single_phase[i]:
                # Rounded up, a step of 8 A gave sessions far from their departure up to 8 A
                # more than on track, ahead of more urgent ones (measured: +0.05 to +0.15
                # points on single-phase sites with steps; on three-phase ones rounding up
                # did better).
                if down is None:
                    on_track = floor_step(steps, on_track)
                else:
                    n_a = int(on_track + 1e-9)
                    on_track = down[n_a] if n_a < len(down) else down[-1]
            elif up is None:
                on_track = ceil_step(steps, on_track)
            else:
                n_a = ceil(on_track - 1e-9)
                on_track = up[n_a] if n_a < len(up) else up[-1]
        order.append(i)
        cap_of[i] = cap
        screen_load += screen_coeffs[i] * cap
        on_track_of[i] = on_track
        need_of[i] = need_a
        laxity[i] = periods_left - need_a / hard
        left[i] = periods_left
        if session.priority:
            if priority is None:
                priority = [0.0] * n
            priority[i] = -float(session.priority)
    d.screen_load = screen_load
    # Rank by (-priority, laxity, periods left), then input order: stable sorts on one float
    # each, which CPython compares without the generic rich comparison tuple keys need.
    order.sort(key=left.__getitem__)
    order.sort(key=laxity.__getitem__)
    if priority is not None:
        order.sort(key=priority.__getitem__)
    return d
