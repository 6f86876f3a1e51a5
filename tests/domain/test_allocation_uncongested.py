"""The uncongested shortcut gives exactly the full solve's pilots, and is taken where it should."""

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.allocation import Constraint, EvseSpec, SessionDemand, compile_network
from app.domain.allocation.allocator import _demands, solve
from app.domain.allocation.fill import fill
from app.domain.allocation.uncongested import unconstrained_pilots
from tests.domain.test_allocation_trees import (
    PERIOD_S,
    Problem,
    assert_hard_rules,
    fleets,
    tree_site,
)

SCALES = (0.5, 1.0, 3.0, 10.0, 1000.0)


@st.composite
def scaled_fleets(draw: st.DrawFn) -> Problem:
    """Random three-phase trees whose limits are scaled from starved to ample, so that some
    sites are congested, some not, and some sit right at the edge."""
    evses, constraints, sessions, now = draw(fleets())
    scale = draw(st.sampled_from(SCALES))
    return evses, [replace(c, limit_a=c.limit_a * scale) for c in constraints], sessions, now


@st.composite
def scaled_sites(draw: st.DrawFn) -> Problem:
    """One site, as FleetAllocator solves it: one component has a screening constraint."""
    now = draw(st.integers(0, 40))
    evses, constraints, sessions, _ = draw(tree_site("s-", now))
    scale = draw(st.sampled_from(SCALES))
    return evses, [replace(c, limit_a=c.limit_a * scale) for c in constraints], sessions, now


def both(problem: Problem) -> tuple[list[float] | None, list[float]]:
    evses, constraints, sessions, now = problem
    net = compile_network(evses, constraints)
    # Each path gets its own Demands: neither may lean on the other's work.
    fast = unconstrained_pilots(net, _demands(net, sessions, now=now, period_s=PERIOD_S))
    full = fill(net, _demands(net, sessions, now=now, period_s=PERIOD_S))
    return fast, full


@settings(max_examples=400, deadline=None)
@given(scaled_fleets())
def test_the_shortcut_is_the_full_solve_whenever_it_answers(problem: Problem) -> None:
    fast, full = both(problem)
    if fast is not None:
        # Equal, not close: the scheduler compares pilots to decide what to send.
        assert fast == full
        assert_hard_rules(problem, dict(zip((e.id for e in problem[0]), fast, strict=True)))


@settings(max_examples=300, deadline=None)
@given(scaled_sites())
def test_on_one_site_the_screen_never_turns_away_an_answer_or_lets_a_wrong_one_by(
    problem: Problem,
) -> None:
    evses, constraints, sessions, now = problem
    net = compile_network(evses, constraints)
    if len(set(net.component_of)) == 1:
        assert net.screen >= 0
    fast, full = both(problem)
    if fast is not None:
        assert fast == full
    else:
        # Turned away: some constraint's summed ceilings really are near or over its limit.
        d = _demands(net, sessions, now=now, period_s=PERIOD_S)
        loads = [0.0] * len(constraints)
        for i in d.order:
            for k, _, _, ac in net.members[i]:
                loads[k] += ac * d.cap[i]
        assert any(
            load > limit - 2e-6 * (1.0 + limit)
            for load, limit in zip(loads, net.fill_limits, strict=True)
        )


@settings(max_examples=200, deadline=None)
@given(fleets())
def test_the_shortcut_answers_when_every_limit_is_far_away(problem: Problem) -> None:
    evses, constraints, sessions, now = problem
    ample = [replace(c, limit_a=1e6) for c in constraints]
    fast, full = both((evses, ample, sessions, now))
    assert fast is not None
    assert fast == full


def site(limit_a: float) -> Problem:
    """Ten continuous 32 A EVSEs on one breaker, each with a session that wants its full rate."""
    evses = [EvseSpec(id=f"e{i}", voltage_v=230.0, max_a=32.0) for i in range(10)]
    constraints = [Constraint("breaker", limit_a, {e.id: 1.0 for e in evses})]
    sessions = [
        SessionDemand(evse_id=e.id, energy_wh=50_000, max_power_w=7360.0, departure_period=20 + i)
        for i, e in enumerate(evses)
    ]
    return evses, constraints, sessions, 0


def test_a_breaker_with_room_for_every_ceiling_takes_the_shortcut() -> None:
    fast, full = both(site(320.0 + 1.0))
    assert fast == full == [32.0] * 10


def test_a_breaker_one_amp_short_is_solved() -> None:
    fast, full = both(site(319.0))
    assert fast is None
    assert sum(full) <= 319.0 + 1e-9
    evses, constraints, sessions, now = site(319.0)
    net = compile_network(evses, constraints)
    assert solve(net, sessions, now=now, period_s=PERIOD_S) == full


def test_a_breaker_exactly_at_the_summed_ceilings_is_solved_not_guessed() -> None:
    # At the edge the solve fills to a hair below the limit; the shortcut must not answer.
    fast, full = both(site(320.0))
    assert fast is None
    assert sum(full) < 320.0
