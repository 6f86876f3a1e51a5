"""Scheduler decisions: only moves of 1 A or more go out; uncontrolled EVSEs keep their room."""

import dataclasses

import pytest

from app.db.models import CapacityNode
from app.db.models.capacity import CapacityNodeKind, PhaseWiring
from app.domain.allocation import constraint_currents
from app.loadmgmt.decisions import Demand, decide
from app.services.capacity_compiler import CompiledSite, compile_site

PERIOD_S = 60.0


def site(evses: int, limit_a: float = 32.0) -> CompiledSite:
    nodes = [CapacityNode(id=1, kind=CapacityNodeKind.CIRCUIT, name="c", limit_a=limit_a)]
    nodes += [
        CapacityNode(
            id=10 + n,
            parent_id=1,
            kind=CapacityNodeKind.EVSE,
            name=f"e{n}",
            evse_id=100 + n,
            phases=PhaseWiring.L1L2L3,
        )
        for n in range(evses)
    ]
    return compile_site(nodes, voltage_v=230.0)


def want(evse_id: int, energy_wh: int = 50_000, ev_max_a: float = 32.0) -> Demand:
    return Demand(
        session_id=evse_id, evse_id=evse_id, energy_wh=energy_wh,
        departure_in_s=4 * 3600, ev_max_w=ev_max_a * 3 * 230.0,
    )  # fmt: skip


def capped(evse_id: int) -> Demand:
    """A session whose EV takes at most 11 A, so two fit on 22.5 A with room to spare."""
    return want(evse_id, ev_max_a=11.0)


def test_three_sessions_share_a_32_a_circuit_within_its_limit() -> None:
    compiled = site(3)
    plan = decide(
        compiled, [want(100), want(101), want(102)], period_s=PERIOD_S, fixed_a={}, held_a={}
    )
    assert set(plan.to_send) == {100, 101, 102}
    assert sum(plan.limits_a.values()) <= 32.0
    assert all(a == 0 or a >= 6 for a in plan.limits_a.values())
    pilots = [plan.limits_a[e] for e in (100, 101, 102)]
    assert max(constraint_currents(compiled.network, pilots)) <= 32.0


@pytest.mark.parametrize(
    ("held", "sent"),
    [
        pytest.param(10.6, False, id="0.4 A lower held: kept"),
        pytest.param(12.0, True, id="exactly 1 A away: sent"),
        pytest.param(9.4, True, id="1.6 A away: sent"),
    ],
)
def test_only_moves_of_at_least_1_a_are_sent(held: float, sent: bool) -> None:
    """Two sessions get 11 A each; what each already holds decides what is sent."""
    compiled = site(2, limit_a=22.5)
    plan = decide(
        compiled, [capped(100), capped(101)], period_s=PERIOD_S, fixed_a={},
        held_a={100: held, 101: 11.0},
    )  # fmt: skip
    assert 101 not in plan.to_send
    assert (100 in plan.to_send) is sent
    assert plan.limits_a[100] == (11.0 if sent else held)


def test_a_small_decrease_is_sent_when_keeping_it_would_overload() -> None:
    compiled = site(2, limit_a=22.5)
    plan = decide(
        compiled, [capped(100), capped(101)], period_s=PERIOD_S, fixed_a={},
        held_a={100: 11.5, 101: 11.4},
    )  # fmt: skip
    assert plan.to_send == {100: 11.0, 101: 11.0}


def test_an_offline_station_is_counted_at_its_safe_default() -> None:
    compiled = site(3)
    plan = decide(
        compiled, [want(100), want(101)], period_s=PERIOD_S, fixed_a={102: 10.0}, held_a={}
    )
    assert 102 not in plan.to_send
    assert plan.limits_a[100] + plan.limits_a[101] <= 22.0
    assert plan.limits_a[100] >= 6


def test_sessions_pause_when_minimums_no_longer_fit() -> None:
    compiled = site(3, limit_a=13.0)
    plan = decide(
        compiled, [want(100), want(101), want(102)], period_s=PERIOD_S, fixed_a={}, held_a={}
    )
    assert sorted(plan.limits_a.values())[0] == 0.0
    assert sum(plan.limits_a.values()) <= 13.0
    paused = [e for e, a in plan.limits_a.items() if a == 0]
    assert all(plan.reasons[e].startswith("paused") for e in paused)


@pytest.mark.parametrize(
    "priorities",
    [(1, 0, 2), (0, 2, 1), (2, 1, 0)],
    ids=["lowest-in-the-middle", "lowest-first", "lowest-last"],
)
def test_when_a_drop_leaves_no_room_the_lowest_priority_pauses_first(
    priorities: tuple[int, int, int],
) -> None:
    """Demand response: EVs taking 8 A each; as the limit drops the minimums stop fitting and
    sessions pause in priority order, whatever their order of arrival."""
    demands = [
        dataclasses.replace(want(100 + n, ev_max_a=8.0), priority=p)
        for n, p in enumerate(priorities)
    ]
    by_rank = [100 + priorities.index(p) for p in (0, 1, 2)]  # lowest priority first
    for limit_a, paused in ((24.0, 0), (20.0, 1), (13.0, 1), (11.0, 2), (7.0, 2), (5.0, 3)):
        plan = decide(site(3, limit_a=limit_a), demands, period_s=PERIOD_S, fixed_a={}, held_a={})
        pilots = [plan.limits_a[e] for e in by_rank]
        assert pilots[:paused] == [0.0] * paused, (limit_a, pilots)
        assert all(a >= 6 for a in pilots[paused:]), (limit_a, pilots)
        assert sum(pilots) <= limit_a
        assert all(plan.reasons[e].startswith("paused") for e in by_rank[:paused])


def test_each_limit_says_what_holds_it() -> None:
    alone = decide(site(1, limit_a=40.0), [want(100)], period_s=PERIOD_S, fixed_a={}, held_a={})
    assert alone.reasons[100] == "allocated: the EVSE's maximum"
    ev_bound = decide(site(2), [capped(100), capped(101)], period_s=PERIOD_S, fixed_a={},
                      held_a={})  # fmt: skip
    assert ev_bound.reasons[100] == "allocated: what the EV takes"
    shared = decide(site(2), [want(100), want(101)], period_s=PERIOD_S, fixed_a={}, held_a={})
    assert {shared.reasons[e] for e in (100, 101)} == {"allocated: c#1/L1 is full"}
    full = decide(site(3, limit_a=13.0), [want(100), want(101), want(102)], period_s=PERIOD_S,
                  fixed_a={}, held_a={})  # fmt: skip
    paused = [e for e, a in full.limits_a.items() if a == 0]
    assert paused
    assert all(full.reasons[e] == "paused: no capacity left on c#1/L1" for e in paused)
