"""Compile a site's capacity tree into the allocator's phasor constraints (SCENARIO.md form).

Angles are those of the current each EVSE draws, relative to L1-N: a line-to-neutral EVSE on
L1, L2, L3 draws at 0, -120, 120 degrees; a line-to-line one between L1-L2, L2-L3, L3-L1 at 30,
-90, 150 (its current leaves one line, coefficient +1, and returns on the other, -1). Every
limited node becomes one constraint per line, so a node's limit binds the current on each line
exactly as its breaker sees it.

A balanced three-phase EVSE draws on all three lines at once, which one angle per EVSE cannot
express: on a site with three-phase EVSEs and no line-to-line ones, every EVSE is given the same
angle, which is exact there (a line carries only line-to-neutral currents, all in phase, so its
current is the plain sum); a site mixing three-phase and line-to-line EVSEs is refused.
"""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from app.db.models.capacity import CapacityNode, CapacityNodeKind, PhaseRotation, PhaseWiring
from app.domain.allocation import MIN_PILOT_A, Constraint, EvseSpec, Network, compile_network
from app.domain.errors import InvalidInput

LINES = ("L1", "L2", "L3")
LINE_ANGLE_DEG = {"L1": 0.0, "L2": -120.0, "L3": 120.0}
LINE_TO_LINE_ANGLE_DEG = {PhaseWiring.L1L2: 30.0, PhaseWiring.L2L3: -90.0, PhaseWiring.L3L1: 150.0}
_ROTATION_LINE = {"R": "L1", "S": "L2", "T": "L3"}


@dataclass(frozen=True, slots=True)
class CompiledEvse:
    """How to talk to one EVSE: its allocator id is `str(evse_id)`."""

    evse_id: int
    node_id: int
    number_phases: int
    voltage_v: float
    lines: Mapping[str, float]  # site line -> coefficient of this EVSE's current on it


@dataclass(frozen=True, slots=True)
class CompiledSite:
    network: Network
    evses: Mapping[int, CompiledEvse]
    #: Constraint indices of each node, for reading back what a node carries.
    node_constraints: Mapping[int, tuple[int, ...]]
    uniform_angle: bool


def effective_limits(
    node: CapacityNode, overrides: Iterable[tuple[float | None, int | None]]
) -> tuple[float | None, int | None]:
    """The node's static limits lowered by every limit in force now (demand response)."""
    limit_a, limit_w = node.limit_a, node.limit_w
    for amps, watts in overrides:
        if amps is not None:
            limit_a = amps if limit_a is None else min(limit_a, amps)
        if watts is not None:
            limit_w = watts if limit_w is None else min(limit_w, watts)
    return limit_a, limit_w


def compile_site(
    nodes: Sequence[CapacityNode],
    *,
    voltage_v: float,
    overrides: Mapping[int, Sequence[tuple[float | None, int | None]]] | None = None,
) -> CompiledSite:
    """EVSE specs and constraints for every EVSE node of `nodes` (one or more whole trees)."""
    overrides = overrides or {}
    by_id = {n.id: n for n in nodes if n.id is not None}
    children: dict[int | None, list[CapacityNode]] = {}
    for node in nodes:
        children.setdefault(node.parent_id, []).append(node)
    evse_nodes = [n for n in nodes if n.kind == CapacityNodeKind.EVSE]
    wirings = {n.phases for n in evse_nodes}
    three_phase = PhaseWiring.L1L2L3 in wirings
    if three_phase and wirings & set(LINE_TO_LINE_ANGLE_DEG):
        raise InvalidInput(
            f"wirings {sorted(w.value for w in wirings)}: three-phase and line-to-line EVSEs "
            "on one site cannot be modelled exactly; expected one or the other"
        )
    evses: dict[int, CompiledEvse] = {}
    specs: list[EvseSpec] = []
    for node in evse_nodes:
        if node.evse_id is None or node.id is None:
            raise InvalidInput(f"EVSE node {node.name!r} has no EVSE, expected evse_id")
        compiled = _evse(node, voltage_v)
        evses[node.evse_id] = compiled
        limit_a, limit_w = effective_limits(node, overrides.get(node.id, ()))
        max_a = node.max_current_a
        if limit_a is not None:
            max_a = min(max_a, max(0.0, limit_a - node.base_load_a))
        if limit_w is not None:
            max_a = min(max_a, max(0.0, limit_w - node.base_load_w) / compiled.voltage_v)
        specs.append(
            EvseSpec(
                id=str(node.evse_id),
                voltage_v=compiled.voltage_v,
                phase_angle_deg=0.0 if three_phase else _angle(node),
                min_a=min(node.min_current_a, max_a),
                max_a=max_a,
                allowed_a=parse_steps(node.current_steps_a),
            )
        )
    constraints: list[Constraint] = []
    node_constraints: dict[int, tuple[int, ...]] = {}
    for node_id, node in by_id.items():
        if node.kind == CapacityNodeKind.EVSE:
            continue
        limit_a, limit_w = effective_limits(node, overrides.get(node_id, ()))
        if limit_a is None and limit_w is None:
            continue
        below = [evses[n.evse_id] for n in _descendants(node, children) if n.evse_id in evses]
        base_a, base_w = _base_load(node, children)
        first = len(constraints)
        for line in LINES:
            coeffs = {str(e.evse_id): e.lines[line] for e in below if line in e.lines}
            if not coeffs:
                continue
            limits = []
            if limit_a is not None:
                limits.append(limit_a - base_a - base_w / (3 * voltage_v))
            if limit_w is not None and not three_phase:
                # Power over lines carrying different phases: W / (lines x V) per line bounds it.
                used = sum(1 for ln in LINES if any(ln in e.lines for e in below))
                limits.append((limit_w - base_w - 3 * voltage_v * base_a) / (used * voltage_v))
            if limits:
                constraints.append(
                    Constraint(f"{node.name}#{node_id}/{line}", max(0.0, min(limits)), coeffs)
                )
        if limit_w is not None and three_phase and below:
            # Same angle everywhere: power is the plain sum of V x I, one exact constraint.
            coeffs = {str(e.evse_id): e.voltage_v / voltage_v for e in below}
            watts = limit_w - base_w - 3 * voltage_v * base_a
            constraints.append(
                Constraint(f"{node.name}#{node_id}/W", max(0.0, watts / voltage_v), coeffs)
            )
        node_constraints[node_id] = tuple(range(first, len(constraints)))
    return CompiledSite(
        network=compile_network(specs, constraints),
        evses=evses,
        node_constraints=node_constraints,
        uniform_angle=three_phase,
    )


def parse_steps(value: str | None) -> tuple[float, ...] | None:
    if not value:
        return None
    try:
        return tuple(sorted({float(part) for part in value.split(",") if part.strip()}))
    except ValueError:
        raise InvalidInput(f"current steps {value!r}: expected comma-separated amps") from None


def _evse(node: CapacityNode, voltage_v: float) -> CompiledEvse:
    assert node.evse_id is not None
    assert node.id is not None
    wiring = node.phases
    if wiring == PhaseWiring.L1L2L3:
        lines = dict.fromkeys(LINES, 1.0)
        return CompiledEvse(node.evse_id, node.id, 3, 3 * voltage_v, lines)
    if wiring in LINE_TO_LINE_ANGLE_DEG:
        out, back = wiring.value[:2], wiring.value[2:]
        return CompiledEvse(
            node.evse_id, node.id, 1, voltage_v * math.sqrt(3), {out: 1.0, back: -1.0}
        )
    return CompiledEvse(node.evse_id, node.id, 1, voltage_v, {wiring.value: 1.0})


def _angle(node: CapacityNode) -> float:
    if node.phases in LINE_TO_LINE_ANGLE_DEG:
        return LINE_TO_LINE_ANGLE_DEG[node.phases]
    if node.phases == PhaseWiring.L1L2L3:
        return LINE_ANGLE_DEG[_ROTATION_LINE[PhaseRotation(node.phase_rotation).value[0]]]
    return LINE_ANGLE_DEG[node.phases.value]


def _descendants(
    node: CapacityNode, children: Mapping[int | None, list[CapacityNode]]
) -> list[CapacityNode]:
    found, stack = [], list(children.get(node.id, ()))
    while stack:
        child = stack.pop()
        found.append(child)
        stack.extend(children.get(child.id, ()))
    return found


def _base_load(
    node: CapacityNode, children: Mapping[int | None, list[CapacityNode]]
) -> tuple[float, float]:
    """Non-EV load on this node and below: it flows through this node's breaker too."""
    nodes = [node, *_descendants(node, children)]
    return sum(n.base_load_a for n in nodes), float(sum(n.base_load_w for n in nodes))


def safe_defaults(site: CompiledSite) -> dict[int, float]:
    """A current per EVSE such that all of them drawing it at once exceeds no constraint.

    Each constraint is split equally by the sum of |coefficients| (the triangle inequality
    makes that safe for phasor sums too); an EVSE gets its smallest share, on its steps, or 0
    when that is below the 6 A a pilot can signal.
    """
    net = site.network
    share = [math.inf] * len(net.evses)
    for constraint in net.constraints:
        weight = sum(abs(c) for c in constraint.coeffs.values())
        if weight <= 0:
            continue
        for evse_id in constraint.coeffs:
            i = net.index[evse_id]
            share[i] = min(share[i], constraint.limit_a / weight)
    result: dict[int, float] = {}
    for i, spec in enumerate(net.evses):
        amps = min(share[i], net.max_on_a[i])
        steps = net.steps_a[i]
        if steps is not None:
            amps = max((s for s in steps if s <= amps), default=0.0)
        amps = math.floor(amps * 10 + 1e-9) / 10
        result[int(spec.id)] = amps if amps >= max(MIN_PILOT_A, net.min_on_a[i]) else 0.0
    return result


def pinned(site: CompiledSite, fixed_a: Mapping[int, float]) -> list[Constraint]:
    """The constraints with room taken off for EVSEs drawing a current we cannot change.

    Offline stations draw their safe default; a station that refused its profile draws what
    it last accepted. |S + F| <= |S| + |F|, so taking |coeff| x amps off each limit is safe.
    """
    result = []
    for constraint in site.network.constraints:
        taken = sum(
            abs(coeff) * fixed_a.get(int(evse_id), 0.0)
            for evse_id, coeff in constraint.coeffs.items()
        )
        result.append(
            Constraint(constraint.name, max(0.0, constraint.limit_a - taken), constraint.coeffs)
        )
    return result
