"""Phasor constraint arithmetic over a compiled set of EVSEs and constraints."""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.domain.allocation.model import MIN_PILOT_A, Constraint, EvseSpec
from app.domain.errors import InvalidInput

#: A membership of one EVSE in one constraint: (constraint index, real and imaginary part of
#: coeff * exp(j * phase), |coeff|).
Member = tuple[int, float, float, float]

#: Tolerance for the final feasibility check; far inside the 1e-3 A the rules allow.
CHECK_TOLERANCE_A = 1e-9
#: Constraints are filled to this much below their limit, so that rounding in the incremental
#: sums never lands a hair above it.
HEADROOM_MARGIN_A = 1e-7
#: Most running sessions the squeeze (fill.py) lowers, one at a time, to start one waiting
#: session. The final check's error bound (`_check_margin`) counts the updates this allows.
SQUEEZE_DONORS = 8
#: Unit roundoff of a double: |fl(x op y) - (x op y)| <= UNIT_ROUNDOFF * |x op y|.
UNIT_ROUNDOFF = 2.0**-53


@dataclass(frozen=True, slots=True)
class Network:
    """EVSEs and constraints indexed for fast, sparse phasor sums.

    Build it once per site layout with `compile_network` and pass it to `allocate` on every
    recompute to skip the indexing work.
    """

    evses: tuple[EvseSpec, ...]
    constraints: tuple[Constraint, ...]
    index: Mapping[str, int]
    members: tuple[tuple[Member, ...], ...]
    limits: tuple[float, ...]
    component_of: tuple[int, ...]
    #: Whether all EVSEs of each EVSE's component draw current at one phase angle.
    single_phase: tuple[bool, ...]
    #: Smallest pilot above 0 each EVSE may get (inf when it can get none).
    min_on_a: tuple[float, ...]
    #: Largest pilot each EVSE may get.
    max_on_a: tuple[float, ...]
    #: Pilots each EVSE accepts besides 0, ascending, or None for a continuous range.
    steps_a: tuple[tuple[float, ...] | None, ...]
    #: 1 / voltage of each EVSE (A per W).
    amps_per_w: tuple[float, ...]
    #: Phase angle of each EVSE, normalised to [0, 360).
    angle_deg: tuple[float, ...]
    #: Indices of the constraints each EVSE is in.
    constraint_set: tuple[tuple[int, ...], ...]
    #: EVSE ids, in index order.
    ids: tuple[str, ...] = ()
    #: For each EVSE on a multi-phase component, a number shared by the EVSEs of that component
    #: drawing at the same phase angle; -1 on single-phase components.
    phase_group: tuple[int, ...] = ()
    #: How many phase groups there are (0 when every component is single-phase).
    phase_groups: int = 0
    #: On single-phase components every phasor of a constraint has one angle, so its magnitude
    #: is |sum_i coeff_i * I_i|: (constraint index, coeff) per membership, None elsewhere.
    scalar_members: tuple[tuple[tuple[int, float], ...] | None, ...] = ()
    #: For accepted steps that are whole amps, `floor_table[i][n]` is the largest step <= n
    #: (a list index instead of a bisection in the hot loop); None otherwise.
    floor_table: tuple[tuple[float, ...] | None, ...] = ()
    #: Likewise `ceil_table[i][n]`: the smallest step >= n (the largest step past the end).
    ceil_table: tuple[tuple[float, ...] | None, ...] = ()
    #: Limits less `HEADROOM_MARGIN_A`: what the allocator fills up to.
    fill_limits: tuple[float, ...] = ()
    #: (limit + `CHECK_TOLERANCE_A`) squared: the final check compares squared magnitudes.
    check_limits_sq: tuple[float, ...] = ()
    #: On a network of one component, the constraint with the most EVSEs (the site's main
    #: breaker, typically), -1 otherwise: the uncongested shortcut screens a call on it first.
    screen: int = -1
    #: |coeff| of each EVSE in `screen` (0 for EVSEs not in it, and all 0 without a screen).
    screen_coeffs: tuple[float, ...] = ()
    #: Per constraint, a squared magnitude that the fill's running sums may reach with the
    #: final from-scratch check still provably finding nothing (`_check_margin`); -1 where
    #: the error bound leaves no room, so that the check always runs.
    proven_sq: tuple[float, ...] = ()
    #: Whether any EVSE is on a single-phase component (only those are squeezed).
    any_single_phase: bool = False


def compile_network(evses: Sequence[EvseSpec], constraints: Sequence[Constraint]) -> Network:
    """Index EVSEs and constraints; reject unknown EVSE ids and duplicates."""
    index: dict[str, int] = {}
    for i, evse in enumerate(evses):
        if evse.id in index:
            raise InvalidInput(f"EVSE id {evse.id!r} appears twice, expected unique ids")
        index[evse.id] = i
    unit = [
        (math.cos(math.radians(e.phase_angle_deg)), math.sin(math.radians(e.phase_angle_deg)))
        for e in evses
    ]
    members: list[list[Member]] = [[] for _ in evses]
    scalar: list[list[tuple[int, float]]] = [[] for _ in evses]
    for k, constraint in enumerate(constraints):
        for evse_id, coeff in constraint.coeffs.items():
            if evse_id not in index:
                raise InvalidInput(
                    f"constraint {constraint.name!r} names EVSE {evse_id!r}, "
                    "expected one of the given EVSEs"
                )
            i = index[evse_id]
            if coeff != 0.0:
                cos, sin = unit[i]
                members[i].append((k, coeff * cos, coeff * sin, abs(coeff)))
                scalar[i].append((k, coeff))
    bounds = [_pilot_bounds(e) for e in evses]
    component_of = _components(len(evses), members)
    angles: dict[int, set[float]] = {}
    for i, evse in enumerate(evses):
        angles.setdefault(component_of[i], set()).add(evse.phase_angle_deg % 360.0)
    single_phase = tuple(len(angles[c]) == 1 for c in component_of)
    groups: dict[tuple[int, float], int] = {}
    phase_group = tuple(
        -1 if single else groups.setdefault((c, e.phase_angle_deg % 360.0), len(groups))
        for e, c, single in zip(evses, component_of, single_phase, strict=True)
    )
    screen, screen_coeffs = _screen(len(evses), members, constraints, component_of)
    return Network(
        evses=tuple(evses),
        constraints=tuple(constraints),
        index=index,
        members=tuple(tuple(m) for m in members),
        limits=tuple(c.limit_a for c in constraints),
        component_of=component_of,
        single_phase=single_phase,
        min_on_a=tuple(b[0] for b in bounds),
        max_on_a=tuple(b[1] for b in bounds),
        steps_a=tuple(b[2] for b in bounds),
        amps_per_w=tuple(1.0 / e.voltage_v for e in evses),
        angle_deg=tuple(e.phase_angle_deg % 360.0 for e in evses),
        constraint_set=tuple(tuple(m[0] for m in mems) for mems in members),
        ids=tuple(e.id for e in evses),
        phase_group=phase_group,
        phase_groups=len(groups),
        scalar_members=tuple(
            tuple(raw) if single else None for raw, single in zip(scalar, single_phase, strict=True)
        ),
        floor_table=tuple(_step_table(b[2], ceil=False) for b in bounds),
        ceil_table=tuple(_step_table(b[2], ceil=True) for b in bounds),
        fill_limits=tuple(max(c.limit_a - HEADROOM_MARGIN_A, 0.0) for c in constraints),
        check_limits_sq=tuple((c.limit_a + CHECK_TOLERANCE_A) ** 2 for c in constraints),
        screen=screen,
        screen_coeffs=screen_coeffs,
        proven_sq=_proven_sq(members, constraints, component_of, bounds),
        any_single_phase=any(single_phase),
    )


def _proven_sq(
    members: Sequence[Sequence[Member]],
    constraints: Sequence[Constraint],
    component_of: Sequence[int],
    bounds: Sequence[tuple[float, float, tuple[float, ...] | None]],
) -> tuple[float, ...]:
    """`Network.proven_sq`: (limit + `CHECK_TOLERANCE_A` - `_check_margin`) squared."""
    size: dict[int, int] = {}
    for component in component_of:
        size[component] = size.get(component, 0) + 1
    reach = [0.0] * len(constraints)
    evses_of = [0] * len(constraints)
    for i, mems in enumerate(members):
        for k, _, _, ac in mems:
            reach[k] += ac * bounds[i][1]
            evses_of[k] = size[component_of[i]]
    out = []
    for k, c in enumerate(constraints):
        safe = c.limit_a + CHECK_TOLERANCE_A - _check_margin(reach[k], evses_of[k], c.limit_a)
        out.append(safe * safe if safe > 0.0 else -1.0)
    return tuple(out)


def _check_margin(reach: float, n_evses: int, limit: float) -> float:
    """Bound on how far the final check's sums can differ from the fill's running sums.

    The fill keeps each constraint's phasor sum S (or signed sum, on single-phase components)
    up to date as pilots move; the final check sums T = sum_i c_i * I_i again from the pilots.
    Where |S| <= limit + tolerance - margin, the check cannot find T over the limit, so it
    need not run (fill.py). With u the unit roundoff and R = sum_i |c_i| * max pilot_i (`reach`):

    - every pilot stays in [0, max pilot], so every exact partial sum, term and pilot change
      of either sum is at most R (times |c_i| <= R for a change);
    - one update of S (a pilot moves by delta) rounds the product and the addition (<= 2uR),
      and the pilot stored may differ from the old one plus delta by u * max pilot: <= 3uR;
    - an EVSE's sums are updated at most U = (2 + 5 * SQUEEZE_DONORS) * n times in a call
      (n EVSEs in its component): two passes, then per waiting session (<= n) at most
      SQUEEZE_DONORS donors tried with at most 5 shifts each, touching only this component;
    - T has at most n terms (<= 2uR each); the cosines and sines of single-phase sums, and
      the factor sqrt(2) between two components' errors and the magnitude, add a few uR.

    So |T| - |S| <= 1.5 * u * R * (3U + 2n + 2) (taken here with a factor 4 / 1.5 to spare),
    and the squares compared on either side add a few u * limit (taken as 10 u (limit + 1)).
    """
    updates = (2 + 5 * SQUEEZE_DONORS) * n_evses
    return 4.0 * UNIT_ROUNDOFF * (reach * (3 * updates + 2 * n_evses + 2) + 2.5 * (limit + 1.0))


def _screen(
    n_evses: int,
    members: Sequence[Sequence[Member]],
    constraints: Sequence[Constraint],
    component_of: Sequence[int],
) -> tuple[int, tuple[float, ...]]:
    """(`Network.screen`, `Network.screen_coeffs`) for these memberships."""
    if not constraints or len(set(component_of)) != 1:
        return -1, (0.0,) * n_evses
    counts = [0] * len(constraints)
    for mems in members:
        for member in mems:
            counts[member[0]] += 1
    screen = min(range(len(constraints)), key=lambda k: (-counts[k], constraints[k].limit_a))
    coeffs = [0.0] * n_evses
    for i, mems in enumerate(members):
        for k, _, _, ac in mems:
            if k == screen:
                coeffs[i] = ac
    return screen, tuple(coeffs)


def _pilot_bounds(evse: EvseSpec) -> tuple[float, float, tuple[float, ...] | None]:
    """(smallest pilot above 0, largest pilot, accepted steps) honouring the 6 A floor."""
    floor = max(MIN_PILOT_A, evse.min_a)
    if evse.allowed_a is None:
        if evse.max_a < floor:
            return math.inf, 0.0, None
        return floor, evse.max_a, None
    steps = tuple(sorted({a for a in evse.allowed_a if floor <= a <= evse.max_a}))
    if not steps:
        return math.inf, 0.0, steps
    return steps[0], steps[-1], steps


def _step_table(steps: tuple[float, ...] | None, *, ceil: bool) -> tuple[float, ...] | None:
    """Largest step <= n (or smallest >= n) for every whole n up to the largest step."""
    if steps is None or not steps or steps[-1] > 1000 or any(a != int(a) for a in steps):
        return None
    if ceil:
        return tuple(next(a for a in steps if a >= n) for n in range(int(steps[-1]) + 1))
    return tuple(max((a for a in steps if a <= n), default=0.0) for n in range(int(steps[-1]) + 1))


def _components(n_evses: int, members: Sequence[Sequence[Member]]) -> tuple[int, ...]:
    """Label each EVSE with its connected component (EVSEs linked through shared constraints)."""
    parent = list(range(n_evses))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    first_of: dict[int, int] = {}
    for i, mems in enumerate(members):
        for k, _, _, _ in mems:
            j = first_of.setdefault(k, i)
            ri, rj = find(i), find(j)
            if ri != rj:
                parent[ri] = rj
    return tuple(find(i) for i in range(n_evses))


def max_increment(
    members: Sequence[Member],
    delta: float,
    sum_re: Sequence[float],
    sum_im: Sequence[float],
    linear: Sequence[float],
    limits: Sequence[float],
) -> float:
    """Largest increment <= `delta` of one EVSE's current that keeps every constraint it is in.

    Exact for phasor constraints: |S + d * c| <= L is a quadratic in d; the linear bound
    sum |coeff_i| * I_i >= |S| skips the square root when a constraint is far from binding.
    """
    for k, a, b, ac in members:
        limit = limits[k]
        if linear[k] + ac * delta <= limit:
            continue
        sr, si = sum_re[k], sum_im[k]
        c = sr * sr + si * si - limit * limit
        if c >= 0.0:
            return 0.0
        q = ac * ac
        half_b = sr * a + si * b
        root = (-half_b + math.sqrt(half_b * half_b - q * c)) / q
        if root < delta:
            delta = root
    return max(delta, 0.0)


def constraint_currents(network: Network, pilots_a: Sequence[float]) -> list[float]:
    """Magnitude of every constraint's phasor sum for the given pilots (indexed like EVSEs)."""
    re = [0.0] * len(network.constraints)
    im = [0.0] * len(network.constraints)
    members = network.members
    for i, current in enumerate(pilots_a):
        if current:
            for k, a, b, _ in members[i]:
                re[k] += a * current
                im[k] += b * current
    return [math.hypot(r, j) for r, j in zip(re, im, strict=True)]


def violated(network: Network, pilots_a: Sequence[float]) -> list[int]:
    """Indices of constraints exceeded by more than `CHECK_TOLERANCE_A`."""
    currents = constraint_currents(network, pilots_a)
    return [
        k
        for k, (current, limit) in enumerate(zip(currents, network.limits, strict=True))
        if current > limit + CHECK_TOLERANCE_A
    ]
