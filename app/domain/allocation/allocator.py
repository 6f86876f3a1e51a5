"""Deadline- and phase-aware allocation of pilot currents under phasor constraints.

One call decides the pilots for the next period:

1. Each session gets a ceiling: the EVSE's and the EV's limits, and no more than the current
   that would finish its remaining energy within the period (a pilot above what the EV will
   draw only wastes capacity that constraints count).
2. Sessions are ranked by priority, then least laxity (periods left before the announced
   departure minus periods needed at full rate), then earliest departure.
3. In that order each session is raised towards the rate it needs to finish by its departure
   (remaining energy spread evenly over the time left), so that every session stays on
   track before anyone charges ahead of need.
4. Then, in the same order, each session is raised as far as its ceiling and the headroom of
   every constraint it is in allow (work-conserving fill). The headroom of a phasor constraint
   for one EVSE is found exactly, by solving a quadratic in the increment.
5. Pilots are kept on the EVSE's steps (rounded down) and a pilot that cannot reach 6 A
   (or the EVSE's minimum) stays 0. On single-phase sites, a waiting session whose headroom is
   a few amps short of 6 A is started by lowering a less urgent running session by that much,
   so the leftover below 6 A is not wasted. A final check recomputes every constraint from
   scratch and lowers pilots, least urgent first, if arithmetic ever left one exceeded.

Cost is linear in the number of (EVSE, constraint) memberships plus a sort: constraints that
share no EVSE never touch each other's state, so a fleet of independent sites costs the sum of
its sites.
"""

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from app.domain.allocation.model import Constraint, EvseSpec, SessionDemand
from app.domain.allocation.network import Network, compile_network, max_increment, violated
from app.domain.errors import InvalidInput

#: Constraints are filled to this much below their limit, so that rounding in the incremental
#: sums never lands a hair above it.
HEADROOM_MARGIN_A = 1e-7
_MAX_DONORS = 8


@dataclass(slots=True)
class _Want:
    """One session's figures for this call."""

    evse: int
    cap_a: float
    on_track_a: float
    rank: tuple[float, float, float, int]


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
    wants = _wants(net, sessions, now=now, period_s=period_s)
    wants.sort(key=lambda w: w.rank)
    pilots = _fill(net, wants)
    _repair(net, pilots, wants)
    return {evse.id: pilots[i] for i, evse in enumerate(net.evses)}


def _wants(
    net: Network, sessions: Sequence[SessionDemand], *, now: int, period_s: float
) -> list[_Want]:
    wants: list[_Want] = []
    seen: set[int] = set()
    index, evses, steps_a = net.index, net.evses, net.steps_a
    min_on_a, max_on_a = net.min_on_a, net.max_on_a
    amp_periods_per_wh = 3600.0 / period_s
    for session in sessions:
        i = index.get(session.evse_id)
        if i is None:
            raise InvalidInput(f"session on unknown EVSE {session.evse_id!r}")
        if i in seen:
            raise InvalidInput(f"two sessions on EVSE {session.evse_id!r}, expected at most one")
        seen.add(i)
        voltage = evses[i].voltage_v
        steps = steps_a[i]
        hard = min(max_on_a[i], session.max_power_w / voltage)
        if steps is not None:
            hard = _floor_step(steps, hard)
        need_a = session.energy_wh * amp_periods_per_wh / voltage
        if hard < min_on_a[i] or need_a <= 0.0:
            continue
        cap = hard if need_a >= hard else _ceil_on(net, i, need_a)
        if session.departure_in_s is not None:
            periods_left = session.departure_in_s / period_s
        else:
            periods_left = float((session.departure_period or 0) - now)
        on_track = min(cap, _ceil_on(net, i, need_a / max(periods_left, 1.0)))
        rank = (-float(session.priority), periods_left - need_a / hard, periods_left, i)
        wants.append(_Want(i, cap, on_track, rank))
    return wants


def _floor_step(steps: tuple[float, ...], value: float) -> float:
    """Largest accepted step <= value, or 0."""
    k = bisect.bisect_right(steps, value + 1e-9)
    return steps[k - 1] if k else 0.0


def _ceil_on(net: Network, i: int, value: float) -> float:
    """Smallest pilot above 0 the EVSE accepts that is >= value (capped at its maximum)."""
    value = max(value, net.min_on_a[i])
    steps = net.steps_a[i]
    if steps is None:
        return min(value, net.max_on_a[i])
    k = bisect.bisect_left(steps, value - 1e-9)
    return steps[k] if k < len(steps) else steps[-1]


def _fill(net: Network, wants: list[_Want]) -> list[float]:
    n_constraints = len(net.limits)
    sum_re = [0.0] * n_constraints
    sum_im = [0.0] * n_constraints
    linear = [0.0] * n_constraints
    limits = [max(limit - HEADROOM_MARGIN_A, 0.0) for limit in net.limits]
    pilots = [0.0] * len(net.evses)

    def shift(i: int, delta: float) -> None:
        pilots[i] += delta
        for k, a, b, ac in net.members[i]:
            sum_re[k] += a * delta
            sum_im[k] += b * delta
            linear[k] += ac * delta

    def headroom(i: int, wanted: float) -> float:
        return max_increment(net.members[i], wanted, sum_re, sum_im, linear, limits)

    def raise_to(i: int, target: float) -> None:
        current = pilots[i]
        if target <= current:
            return
        value = current + headroom(i, target - current)
        steps = net.steps_a[i]
        if steps is not None:
            value = _floor_step(steps, value)
        if value < net.min_on_a[i] or value <= current:
            return
        shift(i, value - current)

    def squeeze_in(want: _Want, donors: list[_Want]) -> None:
        """Start a waiting session whose headroom is short of its minimum pilot by lowering a
        running one (least urgent first) by the shortfall: the leftover is then used."""
        i = want.evse
        if pilots[i]:
            return
        floor = net.min_on_a[i]
        spare = headroom(i, floor)
        if not 1e-6 < spare < floor:
            return
        tried = 0
        for donor in donors:
            j = donor.evse
            if not pilots[j] or j == i:
                continue
            tried += 1
            if tried > _MAX_DONORS:
                return
            before = pilots[j]
            lowered = before - (floor - spare)
            steps = net.steps_a[j]
            if steps is not None:
                lowered = _floor_step(steps, lowered)
            if lowered < net.min_on_a[j]:
                continue
            shift(j, lowered - before)
            if headroom(i, floor) >= floor - 1e-9:
                shift(i, floor)
                raise_to(j, before)
                return
            shift(j, before - lowered)

    for want in wants:
        raise_to(want.evse, want.on_track_a)
    for want in wants:
        raise_to(want.evse, want.cap_a)
    # Measured in ACN-Sim: on single-phase sites the swap adds throughput; on three-phase ones
    # it spends the less urgent sessions' phase balance that later periods need, and loses.
    by_component: dict[int, list[_Want]] = {}
    for want in reversed(wants):
        if net.single_phase[want.evse]:
            by_component.setdefault(net.component_of[want.evse], []).append(want)
    for want in wants:
        donors = by_component.get(net.component_of[want.evse])
        if donors:
            squeeze_in(want, donors)
    return pilots


def _repair(net: Network, pilots: list[float], wants: list[_Want]) -> None:
    """Zero pilots, least urgent first, until no constraint is exceeded.

    Lowering one current can raise another constraint's phasor sum (opposite coefficients), so
    the check runs again after every change; all-zero is always feasible, so this ends.
    """
    least_urgent_first = [w.evse for w in reversed(wants)]
    while bad := violated(net, pilots):
        in_bad = set(bad)
        for i in least_urgent_first:
            if pilots[i] and any(m[0] in in_bad for m in net.members[i]):
                pilots[i] = 0.0
                break
        else:  # pragma: no cover - only EVSEs with sessions can hold a pilot
            raise AssertionError("constraint exceeded with no pilot to lower")
