"""Exact shortcut for a call in which no constraint can bind: every session gets its ceiling."""

from app.domain.allocation.fill import Demands, floor_step
from app.domain.allocation.network import Network

#: Relative slack a site's summed ceilings must leave below its fill limits for the shortcut.
#: The solve's running sums drift from the exact ones by about n * 1e-16 relative (n updates);
#: this keeps their comparisons on the same side as ours for sites of up to millions of EVSEs.
SLACK = 1e-6


def unconstrained_pilots(net: Network, d: Demands) -> list[float] | None:
    """The pilots `fill` would return, found without its passes, or None if a constraint may bind.

    If the linear bound sum |coeff_i| * cap_i of every constraint fits its fill limit (with
    `SLACK`), no pilot the solve can hold at any point (never above its cap) makes a constraint
    limit a raise: both passes then raise every session straight to its target, the squeeze
    finds no waiting session short of room, and the final check finds nothing exceeded. What is
    left is each EVSE's own rounding, done here with the very float expressions of
    `_Fill.raise_all` so that the result is equal to the solve's, not merely close.
    On a fleet most sites are not congested at most hours; a congested one costs one pass over
    its memberships more (stopped at the first constraint found over its limit).
    """
    members, fill_limits, cap, order = net.members, net.fill_limits, d.cap, d.order
    # One constraint first, summed as the ceilings were found: most congested sites stop here.
    if net.screen >= 0 and d.screen_load > fill_limits[net.screen]:
        return None
    linear = [0.0] * len(fill_limits)
    for i in order:
        c = cap[i]
        for k, _, _, ac in members[i]:
            total = linear[k] + ac * c
            if total > fill_limits[k]:
                return None
            linear[k] = total
    for total, limit in zip(linear, fill_limits, strict=True):
        if total > limit - SLACK * (1.0 + limit):
            return None
    steps_a, floor_table, min_on_a = net.steps_a, net.floor_table, net.min_on_a
    need, trim, on_track = d.need, d.trim, d.on_track
    pilots = [0.0] * len(net.evses)
    for i in order:
        steps, floor = steps_a[i], min_on_a[i]
        table = floor_table[i] if steps is not None else None
        current = 0.0
        for target in (on_track[i], cap[i]):
            delta = target - current
            if delta <= 0.0:
                continue
            value = current + delta
            if steps is not None:
                if table is None:
                    value = floor_step(steps, value)
                else:
                    n = int(value + 1e-9)
                    value = table[n] if n < len(table) else table[-1]
            elif trim[i] and 0.0 < need[i] - value < floor:
                value = need[i] - floor
            if value < floor or value <= current:
                continue
            current = value
        pilots[i] = current
    return pilots
