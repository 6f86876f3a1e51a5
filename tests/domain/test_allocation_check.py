"""The final check is skipped only where the running sums prove it would find nothing."""

import math
import random
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.allocation import Constraint, EvseSpec, SessionDemand, compile_network
from app.domain.allocation.allocator import _demands
from app.domain.allocation.fill import _exceeded, _Fill, _filled_state, _proven_within
from app.domain.allocation.network import Network, _check_margin
from tests.domain.test_allocation_trees import PERIOD_S, Problem, fleets

#: Limits from starved (every constraint binds, the squeeze runs) to ample.
SCALES = (0.05, 0.3, 1.0, 3.0)


@st.composite
def scaled_fleets(draw: st.DrawFn) -> Problem:
    evses, constraints, sessions, now = draw(fleets())
    scale = draw(st.sampled_from(SCALES))
    return evses, [replace(c, limit_a=c.limit_a * scale) for c in constraints], sessions, now


def filled(problem: Problem) -> tuple[Network, _Fill, list[int]]:
    """The fill's state just before its final check (what `fill` holds at that point)."""
    evses, constraints, sessions, now = problem
    net = compile_network(evses, constraints)
    d = _demands(net, sessions, now=now, period_s=PERIOD_S)
    return net, _filled_state(net, d), d.order


def from_scratch(net: Network, pilots: list[float]) -> list[float]:
    """Each constraint's magnitude summed again from the pilots, with exact sums (fsum)."""
    re: list[list[float]] = [[] for _ in net.limits]
    im: list[list[float]] = [[] for _ in net.limits]
    for i, current in enumerate(pilots):
        for k, a, b, _ in net.members[i]:
            re[k].append(a * current)
            im[k].append(b * current)
    return [math.hypot(math.fsum(r), math.fsum(j)) for r, j in zip(re, im, strict=True)]


@settings(max_examples=400, deadline=None)
@given(scaled_fleets())
def test_running_sums_stay_within_the_proven_margin_of_the_pilots(problem: Problem) -> None:
    net, state, _ = filled(problem)
    exact = from_scratch(net, state.pilots)
    sizes = {c: net.component_of.count(c) for c in net.component_of}
    for k, limit in enumerate(net.limits):
        running = math.hypot(state.sum_re[k], state.sum_im[k]) + abs(state.scalar[k])
        reach = sum(
            m[3] * net.max_on_a[i] for i, mems in enumerate(net.members) for m in mems if m[0] == k
        )
        n = max(
            (sizes[net.component_of[i]] for i, s in enumerate(net.constraint_set) if k in s),
            default=0,
        )
        # The margin is far wider than the error seen (it is a worst case), but must cover it.
        assert abs(exact[k] - running) <= _check_margin(reach, n, limit)


@settings(max_examples=400, deadline=None)
@given(scaled_fleets())
def test_where_the_check_is_skipped_it_would_have_found_nothing(problem: Problem) -> None:
    net, state, order = filled(problem)
    if _proven_within(state):
        # The check `fill` skips: it would have lowered no pilot, so the pilots are the same.
        assert _exceeded(net, state.pilots, order) == set()


def test_on_sites_like_the_fleet_bench_the_check_is_skipped() -> None:
    """Ten EVSEs per site, its lines filled to their limits: the proof holds on each site."""
    rng = random.Random(5)
    for site in range(30):
        angles = (0.0, -120.0, 120.0) if site % 2 else (0.0,)
        evses = [
            EvseSpec(f"e{j}", 230.0, rng.choice(angles), max_a=32.0, allowed_a=None)
            for j in range(10)
        ]
        constraints = [
            Constraint(
                f"line{a}", 40.0 + site, {e.id: 1.0 for e in evses if e.phase_angle_deg == a}
            )
            for a in angles
        ]
        sessions = [
            SessionDemand(e.id, rng.randint(5_000, 40_000), 7400.0, departure_in_s=3600.0)
            for e in evses
        ]
        net, state, _ = filled((evses, constraints, sessions, 0))
        assert max(from_scratch(net, state.pilots)) > 39.0 + site
        assert _proven_within(state), site


def test_a_margin_wider_than_the_headroom_always_runs_the_check() -> None:
    # Reach 1e12 A: rounding alone could exceed the 1e-7 A the fill leaves below the limit.
    evses = [EvseSpec("e", 230.0, max_a=1e12)]
    constraints = [Constraint("c", 100.0, {"e": 1.0})]
    assert _check_margin(1e12, 1, 100.0) > 1e-7
    session = SessionDemand("e", 1e6, 1e15, departure_in_s=3600.0)
    _, state, _ = filled((evses, constraints, [session], 0))
    assert state.pilots[0] > 99.0
    assert not _proven_within(state)


def test_running_sums_over_a_limit_are_not_taken_as_proof() -> None:
    evses = [EvseSpec(f"e{j}", 230.0, phase_angle_deg=120.0 * j) for j in range(3)]
    coeffs = {e.id: 1.0 for e in evses}
    _, state, _ = filled((evses, [Constraint("line", 20.0, coeffs)], [], 0))
    assert _proven_within(state)
    state.shift(0, 20.1)  # as if arithmetic had left the sum 0.1 A over the limit
    assert not _proven_within(state)
