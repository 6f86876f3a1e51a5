"""The load-management allocator: hard rules always hold, urgency and capacity are honoured."""

import cmath
import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.allocation import (
    Constraint,
    EvseSpec,
    SessionDemand,
    allocate,
    compile_network,
    constraint_currents,
)
from app.domain.errors import InvalidInput

PERIOD_S = 300.0
V = 208.0
FULL_KW = 32 * V  # W an EV needs to take a 32 A pilot at 208 V


def evse(evse_id: str, **kwargs: object) -> EvseSpec:
    return EvseSpec(id=evse_id, voltage_v=V, **kwargs)  # type: ignore[arg-type]


def demand(
    evse_id: str,
    *,
    energy_wh: int = 30_000,
    max_power_w: float = FULL_KW,
    departure: int = 100,
    priority: int = 0,
) -> SessionDemand:
    return SessionDemand(
        evse_id=evse_id,
        energy_wh=energy_wh,
        max_power_w=max_power_w,
        departure_period=departure,
        priority=priority,
    )


def phasor_magnitude(constraint: Constraint, evses: list[EvseSpec], pilots: dict[str, float]):
    angle = {e.id: math.radians(e.phase_angle_deg) for e in evses}
    return abs(sum(c * pilots[i] * cmath.exp(1j * angle[i]) for i, c in constraint.coeffs.items()))


CASES = [
    pytest.param([evse("a")], [], [demand("a")], {"a": 32.0}, id="unconstrained-gets-evse-max"),
    pytest.param([evse("a"), evse("b")], [], [demand("a")], {"a": 32.0, "b": 0.0},
                 id="evse-without-session-gets-zero"),
    pytest.param([evse("a")], [], [demand("a", max_power_w=16 * V)], {"a": 16.0},
                 id="ev-max-power-caps-pilot"),
    pytest.param([evse("a")], [], [demand("a", energy_wh=52)], {"a": 6.0},
                 id="small-need-gets-the-6a-minimum"),
    pytest.param([evse("a")], [], [demand("a", energy_wh=0)], {"a": 0.0},
                 id="nothing-left-to-charge-gets-zero"),
    pytest.param([evse("a")], [], [demand("a", max_power_w=5 * V)], {"a": 0.0},
                 id="ev-below-6a-gets-zero"),
    pytest.param([evse("a", allowed_a=(0.0, 8.0, 16.0, 24.0, 32.0))],
                 [Constraint("c", 23.0, {"a": 1.0})], [demand("a")], {"a": 16.0},
                 id="discrete-steps-round-down"),
    pytest.param([evse("a"), evse("b")], [Constraint("c", 36.0, {"a": 1.0, "b": 1.0})],
                 [demand("a", departure=10), demand("b", departure=50)],
                 {"a": 30.0, "b": 6.0}, id="urgent-first-and-other-keeps-6a"),
    pytest.param([evse("a"), evse("b")], [Constraint("c", 37.0, {"a": 1.0, "b": 1.0})],
                 [demand("a", departure=5), demand("b", departure=100)],
                 {"a": 31.0, "b": 6.0}, id="leftover-below-6a-is-not-wasted"),
    pytest.param([evse("a", allowed_a=(0.0, 8.0, 16.0, 24.0, 32.0)), evse("b")],
                 [Constraint("c", 28.0, {"a": 1.0, "b": 1.0})],
                 [demand("a", departure=5), demand("b", departure=100)],
                 {"a": 24.0, "b": 0.0}, id="no-swap-that-draws-less-in-all"),
    pytest.param([evse("a"), evse("b")], [Constraint("c", 5.0, {"a": 1.0, "b": 1.0})],
                 [demand("a"), demand("b")], {"a": 0.0, "b": 0.0},
                 id="headroom-below-6a-gives-zero"),
    pytest.param([evse("a", min_a=10.0)], [Constraint("c", 9.0, {"a": 1.0})], [demand("a")],
                 {"a": 0.0}, id="below-evse-minimum-gives-zero"),
    pytest.param([evse(n, phase_angle_deg=p) for n, p in (("a", 0), ("b", 120), ("c", -120))],
                 [Constraint("neutral", 40.0, {"a": 1.0, "b": 1.0, "c": 1.0})],
                 [demand("a"), demand("b"), demand("c")], {"a": 32.0, "b": 32.0, "c": 32.0},
                 id="balanced-three-phase-phasors-cancel"),
]  # fmt: skip


@pytest.mark.parametrize(("evses", "constraints", "sessions", "expected"), CASES)
def test_allocation_cases(
    evses: list[EvseSpec],
    constraints: list[Constraint],
    sessions: list[SessionDemand],
    expected: dict[str, float],
) -> None:
    pilots = allocate(
        evses=evses, constraints=constraints, sessions=sessions, now=0, period_s=PERIOD_S
    )
    assert pilots == pytest.approx(expected, abs=1e-6)


def test_fills_a_shared_limit_completely() -> None:
    evses = [evse(f"e{i}") for i in range(5)]
    constraints = [Constraint("site", 100.0, {e.id: 1.0 for e in evses})]
    sessions = [demand(e.id, departure=20 + i) for i, e in enumerate(evses)]
    pilots = allocate(
        evses=evses, constraints=constraints, sessions=sessions, now=0, period_s=PERIOD_S
    )
    assert sum(pilots.values()) == pytest.approx(100.0, abs=1e-5)
    assert all(p == 0 or p >= 6 for p in pilots.values())


def test_three_phase_limit_is_exact_not_linearised() -> None:
    # Line B of two line-to-line loads: I_B = I_BC - I_AB, two phasors 60 degrees apart.
    evses = [evse("ab", phase_angle_deg=30.0), evse("bc", phase_angle_deg=-90.0)]
    constraints = [Constraint("line-b", 32.0, {"ab": -1.0, "bc": 1.0})]
    pilots = allocate(
        evses=evses,
        constraints=constraints,
        sessions=[demand("ab"), demand("bc")],
        now=0,
        period_s=PERIOD_S,
    )
    magnitude = phasor_magnitude(constraints[0], evses, pilots)
    assert 32.0 - 1e-3 <= magnitude <= 32.0 + 1e-3
    # A linearised check (|coeffs| summed) would stop at 32 A in total.
    assert pilots["ab"] + pilots["bc"] > 35.0


def test_more_urgent_sessions_get_at_least_as_much_when_capacity_is_short() -> None:
    evses = [evse(f"e{i}") for i in range(6)]
    constraints = [Constraint("site", 60.0, {e.id: 1.0 for e in evses})]
    # Same energy, departures from soon to late: laxity grows with the index.
    sessions = [demand(e.id, energy_wh=15_000, departure=15 + 10 * i) for i, e in enumerate(evses)]
    pilots = allocate(
        evses=evses, constraints=constraints, sessions=sessions, now=0, period_s=PERIOD_S
    )
    rates = [pilots[e.id] for e in evses]
    assert rates == sorted(rates, reverse=True)
    assert rates[0] > rates[-1]


def test_higher_priority_is_served_before_urgency() -> None:
    evses = [evse("fleet"), evse("visitor")]
    constraints = [Constraint("site", 32.0, {"fleet": 1.0, "visitor": 1.0})]
    sessions = [demand("fleet", departure=90, priority=1), demand("visitor", departure=3)]
    pilots = allocate(
        evses=evses, constraints=constraints, sessions=sessions, now=0, period_s=PERIOD_S
    )
    assert pilots["fleet"] > pilots["visitor"]


def test_departure_in_seconds_matches_departure_period() -> None:
    evses = [evse("a"), evse("b")]
    constraints = [Constraint("site", 40.0, {"a": 1.0, "b": 1.0})]
    by_period = [demand("a", departure=12), demand("b", departure=40)]
    by_seconds = [
        SessionDemand(evse_id=s.evse_id, energy_wh=s.energy_wh, max_power_w=s.max_power_w,
                      departure_in_s=(s.departure_period or 0) * PERIOD_S - 2 * PERIOD_S)
        for s in by_period
    ]  # fmt: skip
    common = {"evses": evses, "constraints": constraints, "period_s": PERIOD_S}
    assert allocate(sessions=by_period, now=2, **common) == allocate(  # type: ignore[arg-type]
        sessions=by_seconds, now=0, **common
    )


def test_independent_sites_are_allocated_as_if_alone() -> None:
    def site(prefix: str, limit: float) -> tuple[list[EvseSpec], list[Constraint]]:
        evses = [evse(f"{prefix}{i}", phase_angle_deg=(0, 120, -120)[i % 3]) for i in range(4)]
        return evses, [Constraint(f"{prefix}-site", limit, {e.id: 1.0 for e in evses})]

    (ea, ca), (eb, cb) = site("a", 40.0), site("b", 70.0)
    sa = [demand(e.id, departure=10 + 7 * i) for i, e in enumerate(ea)]
    sb = [demand(e.id, departure=90 - 9 * i) for i, e in enumerate(eb)]
    both = allocate(evses=ea + eb, constraints=ca + cb, sessions=sa + sb, now=0, period_s=300.0)
    alone_a = allocate(evses=ea, constraints=ca, sessions=sa, now=0, period_s=300.0)
    alone_b = allocate(evses=eb, constraints=cb, sessions=sb, now=0, period_s=300.0)
    assert both == alone_a | alone_b


def test_a_compiled_network_gives_the_same_result() -> None:
    evses = [evse("a"), evse("b", phase_angle_deg=120.0)]
    constraints = [Constraint("site", 50.0, {"a": 1.0, "b": 1.0})]
    sessions = [demand("a", departure=5), demand("b")]
    network = compile_network(evses, constraints)
    direct = allocate(
        evses=evses, constraints=constraints, sessions=sessions, now=0, period_s=PERIOD_S
    )
    assert allocate(sessions=sessions, now=0, period_s=PERIOD_S, network=network) == direct


@pytest.mark.parametrize(
    ("evses", "constraints", "sessions"),
    [
        pytest.param([evse("a")], [Constraint("c", 10.0, {"zz": 1.0})], [], id="unknown-evse"),
        pytest.param([evse("a"), evse("a")], [], [], id="duplicate-evse"),
        pytest.param([evse("a")], [], [demand("a"), demand("a")], id="two-sessions-one-evse"),
        pytest.param([evse("a")], [], [demand("b")], id="session-on-unknown-evse"),
    ],
)
def test_inconsistent_input_is_rejected(
    evses: list[EvseSpec], constraints: list[Constraint], sessions: list[SessionDemand]
) -> None:
    with pytest.raises(InvalidInput):
        allocate(evses=evses, constraints=constraints, sessions=sessions, now=0, period_s=300.0)


def test_from_kwh_keeps_the_energy_exact_but_drops_float_noise() -> None:
    exact = SessionDemand.from_kwh(evse_id="a", energy_kwh=0.12345678, max_kw=7.2,
                                   departure_period=3)  # fmt: skip
    assert exact.energy_wh == pytest.approx(123.45678)
    noise = SessionDemand.from_kwh(evse_id="a", energy_kwh=3e-13, max_kw=7.2, departure_period=3)
    assert noise.energy_wh == 0
    # A finishing session's pilot is what the EV will draw, not a Wh more.
    pilots = allocate(
        evses=[evse("a")], sessions=[exact], now=0, period_s=PERIOD_S,
        constraints=[Constraint("c", 32.0, {"a": 1.0})],
    )  # fmt: skip
    assert pilots["a"] == pytest.approx(123.45678 * 3600 / PERIOD_S / V)  # 7.12 A


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda: Constraint("c", -1.0, {}), id="negative-limit"),
        pytest.param(lambda: EvseSpec(id="a", voltage_v=0.0), id="zero-voltage"),
        pytest.param(lambda: EvseSpec(id="a", voltage_v=V, min_a=20, max_a=10), id="min-above-max"),
        pytest.param(
            lambda: SessionDemand(evse_id="a", energy_wh=1, max_power_w=1.0), id="no-departure"
        ),
        pytest.param(
            lambda: SessionDemand(evse_id="a", energy_wh=-1, max_power_w=1.0, departure_period=1),
            id="negative-energy",
        ),
        pytest.param(
            lambda: SessionDemand(
                evse_id="a", energy_wh=math.nan, max_power_w=1.0, departure_period=1
            ),
            id="nan-energy",
        ),
    ],
)
def test_invalid_values_are_rejected(build: object) -> None:
    with pytest.raises(InvalidInput):
        build()  # type: ignore[operator]


# --- properties -----------------------------------------------------------------------------

ANGLES = (0.0, 120.0, -120.0, 30.0, -90.0, 150.0)
STEP_SETS = (None, None, (0.0, 8.0, 16.0, 24.0, 32.0), tuple(float(a) for a in range(0, 33)),
             (0.0, 3.0, 5.0, 6.0, 10.0, 13.5, 20.0), (4.0, 5.0))  # fmt: skip


@st.composite
def problems(draw: st.DrawFn) -> tuple[list[EvseSpec], list[Constraint], list[SessionDemand], int]:
    n = draw(st.integers(1, 9))
    three_phase = draw(st.booleans())
    evses = [
        EvseSpec(
            id=f"e{i}",
            voltage_v=draw(st.sampled_from((208.0, 230.0, 240.0))),
            phase_angle_deg=draw(st.sampled_from(ANGLES)) if three_phase else 0.0,
            min_a=draw(st.sampled_from((0.0, 0.0, 6.0, 8.0))),
            max_a=draw(st.sampled_from((16.0, 32.0, 40.0, 80.0))),
            allowed_a=draw(st.sampled_from(STEP_SETS)),
        )
        for i in range(n)
    ]
    ids = [e.id for e in evses]
    constraints = [Constraint("site", draw(st.floats(0.0, 200.0)), dict.fromkeys(ids, 1.0))]
    for k in range(draw(st.integers(0, 5))):
        members = draw(st.lists(st.sampled_from(ids), min_size=1, unique=True))
        coeffs = {m: draw(st.sampled_from((1.0, -1.0, 0.25, -0.5, 0.0))) for m in members}
        constraints.append(Constraint(f"c{k}", draw(st.floats(0.0, 120.0)), coeffs))
    now = draw(st.integers(0, 50))
    sessions = [
        SessionDemand(
            evse_id=i,
            energy_wh=draw(st.integers(0, 80_000)),
            max_power_w=draw(st.floats(0.0, 22_000.0)),
            departure_period=now + draw(st.integers(-5, 200)),
            priority=draw(st.integers(0, 2)),
        )
        for i in draw(st.lists(st.sampled_from(ids), unique=True))
    ]
    return evses, constraints, sessions, now


@settings(max_examples=400, deadline=None)
@given(problems())
def test_hard_rules_always_hold(
    problem: tuple[list[EvseSpec], list[Constraint], list[SessionDemand], int],
) -> None:
    evses, constraints, sessions, now = problem
    pilots = allocate(
        evses=evses, constraints=constraints, sessions=sessions, now=now, period_s=PERIOD_S
    )
    assert set(pilots) == {e.id for e in evses}
    by_evse = {s.evse_id: s for s in sessions}
    for e in evses:
        pilot = pilots[e.id]
        if pilot == 0:
            continue
        session = by_evse.get(e.id)
        assert session is not None, "an EVSE without a session got current"
        assert pilot >= 6.0 - 1e-9
        assert e.min_a - 1e-9 <= pilot <= e.max_a + 1e-9
        assert pilot <= session.max_power_w / e.voltage_v + 1e-9
        if e.allowed_a is not None:
            assert pilot in e.allowed_a
    for constraint in constraints:
        assert phasor_magnitude(constraint, evses, pilots) <= constraint.limit_a + 1e-3
    network = compile_network(evses, constraints)
    currents = constraint_currents(network, [pilots[e.id] for e in evses])
    assert all(c <= lim + 1e-3 for c, lim in zip(currents, network.limits, strict=True))


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(2, 10),
    limit=st.floats(12.0, 150.0),
    energy=st.integers(2_000, 40_000),
    departures=st.lists(st.integers(1, 150), min_size=10, max_size=10, unique=True),
)
def test_less_laxity_never_gets_less_on_one_shared_limit(
    n: int, limit: float, energy: int, departures: list[int]
) -> None:
    evses = [evse(f"e{i}") for i in range(n)]
    constraints = [Constraint("site", limit, {e.id: 1.0 for e in evses})]
    sessions = [
        demand(e.id, energy_wh=energy, departure=d) for e, d in zip(evses, departures, strict=False)
    ]
    pilots = allocate(
        evses=evses, constraints=constraints, sessions=sessions, now=0, period_s=PERIOD_S
    )
    # Equal energy and EVs: an earlier departure is less laxity.
    ranked = sorted(sessions, key=lambda s: s.departure_period or 0)
    rates = [pilots[s.evse_id] for s in ranked]
    for more_urgent, less_urgent in itertools.pairwise(rates):
        assert more_urgent >= less_urgent - 1e-9


@settings(max_examples=300, deadline=None)
@given(problems())
def test_no_remainder_below_6a_is_left_for_a_later_period(
    problem: tuple[list[EvseSpec], list[Constraint], list[SessionDemand], int],
) -> None:
    # A remainder the EV could only take with a pilot below 6 A would cost a whole 6 A pilot
    # for less current later: continuous EVSEs finish exactly or leave at least their minimum.
    evses, constraints, sessions, now = problem
    pilots = allocate(
        evses=evses, constraints=constraints, sessions=sessions, now=now, period_s=PERIOD_S
    )
    by_id = {e.id: e for e in evses}
    for session in sessions:
        e = by_id[session.evse_id]
        pilot = pilots[e.id]
        floor = max(6.0, e.min_a)
        need_a = session.energy_wh * 3600.0 / PERIOD_S / e.voltage_v
        if e.allowed_a is not None or not pilot or (session.departure_period or 0) < now + 2:
            continue
        if need_a < 2 * floor:
            continue
        remainder = need_a - pilot
        assert remainder <= 1e-6 or remainder >= floor - 1e-6
