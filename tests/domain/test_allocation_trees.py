"""Allocator properties on random three-phase electrical trees and fleets of them."""

import cmath
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.allocation import (
    Constraint,
    EvseSpec,
    FleetAllocator,
    SessionDemand,
    allocate,
    compile_network,
)

PERIOD_S = 300.0
LINES = "ABC"
#: Wiring of an EVSE: (phase angle of its current, {line: coefficient}). Line-to-neutral loads
#: draw on one line; a line-to-line load between X and Y adds to line X and subtracts from Y.
WIRINGS = (
    (0.0, {"A": 1.0}),
    (-120.0, {"B": 1.0}),
    (120.0, {"C": 1.0}),
    (30.0, {"A": 1.0, "B": -1.0}),
    (-90.0, {"B": 1.0, "C": -1.0}),
    (150.0, {"C": 1.0, "A": -1.0}),
)
STEP_SETS = (None, (0.0, 8.0, 16.0, 24.0, 32.0), tuple(float(a) for a in range(33)), (0.0, 10.0))

Problem = tuple[list[EvseSpec], list[Constraint], list[SessionDemand], int]


@st.composite
def tree_site(draw: st.DrawFn, prefix: str, now: int) -> Problem:
    """grid connection -> site -> circuits -> EVSEs; every node limits each line it feeds."""
    evses: list[EvseSpec] = []
    wiring: dict[str, dict[str, float]] = {}
    circuits: list[list[str]] = []
    for c in range(draw(st.integers(1, 4))):
        ids = []
        for j in range(draw(st.integers(1, 6))):
            angle, coeffs = draw(st.sampled_from(WIRINGS))
            evse_id = f"{prefix}c{c}e{j}"
            evses.append(
                EvseSpec(
                    id=evse_id,
                    voltage_v=draw(st.sampled_from((230.0, 400.0))),
                    phase_angle_deg=angle,
                    min_a=draw(st.sampled_from((0.0, 0.0, 6.0, 10.0))),
                    max_a=draw(st.sampled_from((16.0, 32.0, 63.0))),
                    allowed_a=draw(st.sampled_from(STEP_SETS)),
                )
            )
            wiring[evse_id] = coeffs
            ids.append(evse_id)
        circuits.append(ids)
    nodes = [(f"{prefix}grid", [e.id for e in evses]), (f"{prefix}site", [e.id for e in evses])]
    nodes += [(f"{prefix}circuit{c}", ids) for c, ids in enumerate(circuits)]
    constraints = []
    for name, ids in nodes:
        for line in LINES:
            coeffs = {i: wiring[i][line] for i in ids if line in wiring[i]}
            if coeffs:
                limit = draw(st.floats(0.0, 150.0, allow_nan=False))
                constraints.append(Constraint(f"{name}-{line}", limit, coeffs))
    sessions = [
        SessionDemand(
            evse_id=e.id,
            energy_wh=draw(st.integers(0, 60_000)),
            max_power_w=draw(st.floats(0.0, 22_000.0)),
            departure_period=now + draw(st.integers(-3, 150)),
            priority=draw(st.sampled_from((0, 0, 0, 1))),
        )
        for e in evses
        if draw(st.booleans())
    ]
    return evses, constraints, sessions, now


@st.composite
def fleets(draw: st.DrawFn) -> Problem:
    now = draw(st.integers(0, 40))
    evses: list[EvseSpec] = []
    constraints: list[Constraint] = []
    sessions: list[SessionDemand] = []
    for s in range(draw(st.integers(1, 4))):
        e, c, d, _ = draw(tree_site(f"s{s}-", now))
        evses += e
        constraints += c
        sessions += d
    return evses, constraints, sessions, now


def line_current(constraint: Constraint, evses: list[EvseSpec], pilots: dict[str, float]) -> float:
    """Magnitude of the constraint's phasor sum, computed independently of the allocator."""
    angle = {e.id: math.radians(e.phase_angle_deg) for e in evses}
    return abs(sum(c * pilots[i] * cmath.exp(1j * angle[i]) for i, c in constraint.coeffs.items()))


def assert_hard_rules(problem: Problem, pilots: dict[str, float]) -> None:
    evses, constraints, sessions, _ = problem
    by_evse = {s.evse_id: s for s in sessions}
    for e in evses:
        pilot = pilots[e.id]
        if pilot == 0.0:
            continue
        session = by_evse.get(e.id)
        assert session is not None, f"{e.id} has no session but got {pilot} A"
        assert pilot >= max(6.0, e.min_a) - 1e-9, (e, pilot)
        assert pilot <= e.max_a + 1e-9, (e, pilot)
        assert pilot <= session.max_power_w / e.voltage_v + 1e-9, (e, session, pilot)
        if e.allowed_a is not None:
            assert pilot in e.allowed_a, (e, pilot)
    for constraint in constraints:
        assert line_current(constraint, evses, pilots) <= constraint.limit_a + 1e-6, constraint


@settings(max_examples=300, deadline=None)
@given(fleets())
def test_three_phase_trees_never_break_a_hard_rule(problem: Problem) -> None:
    evses, constraints, sessions, now = problem
    pilots = allocate(
        evses=evses, constraints=constraints, sessions=sessions, now=now, period_s=PERIOD_S
    )
    assert set(pilots) == {e.id for e in evses}
    assert_hard_rules(problem, pilots)


@settings(max_examples=150, deadline=None)
@given(fleets(), st.data())
def test_a_fleet_of_trees_solved_site_by_site_is_the_whole_answer(
    problem: Problem, data: st.DataObject
) -> None:
    evses, constraints, sessions, now = problem
    network = compile_network(evses, constraints)
    fleet = FleetAllocator(network)
    first = fleet.allocate(sessions=sessions, now=now, period_s=PERIOD_S)
    assert first == allocate(sessions=sessions, now=now, period_s=PERIOD_S, network=network)
    assert_hard_rules(problem, first)
    # One session leaves: only its part is solved again, and the answer is still the whole one
    # (a site can be several parts: loads on different lines may share no constraint).
    if sessions:
        gone = data.draw(st.sampled_from(sessions))
        rest = [s for s in sessions if s is not gone]
        again = fleet.allocate(sessions=rest, now=now, period_s=PERIOD_S)
        if rest:
            assert fleet.solved_parts == 1
        assert again == allocate(sessions=rest, now=now, period_s=PERIOD_S, network=network)
        assert_hard_rules((evses, constraints, rest, now), again)
