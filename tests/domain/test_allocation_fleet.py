"""Fleet allocation: independent sites solved apart give the whole-network answer, and an
event on one site solves that site only."""

import random

import pytest

from app.domain.allocation import (
    Constraint,
    EvseSpec,
    FleetAllocator,
    SessionDemand,
    allocate,
    compile_network,
)
from app.domain.errors import InvalidInput

PERIOD_S = 300.0


def fleet_network(sites: int, per_site: int, rng: random.Random):
    evses: list[EvseSpec] = []
    constraints: list[Constraint] = []
    for s in range(sites):
        three = s % 2 == 1
        ids = [f"s{s}-e{j}" for j in range(per_site)]
        evses += [
            EvseSpec(
                id=evse_id,
                voltage_v=208.0,
                phase_angle_deg=(30.0, -90.0, 150.0)[j % 3] if three else 0.0,
                allowed_a=None if j % 2 else (0.0, 8.0, 16.0, 24.0, 32.0),
            )
            for j, evse_id in enumerate(ids)
        ]
        constraints.append(Constraint(f"s{s}", rng.uniform(20.0, 120.0), dict.fromkeys(ids, 1.0)))
    return compile_network(evses, constraints)


def random_demand(rng: random.Random, evse_id: str) -> SessionDemand:
    return SessionDemand(
        evse_id=evse_id,
        energy_wh=rng.randint(0, 30_000),
        max_power_w=rng.choice((3300.0, 7200.0, 11000.0)),
        departure_in_s=PERIOD_S * rng.randint(1, 100),
        priority=rng.choice((0, 0, 0, 1)),
    )


@pytest.mark.parametrize("seed", range(5))
def test_fleet_gives_the_whole_network_answer_and_resolves_only_changed_sites(seed: int) -> None:
    rng = random.Random(seed)
    network = fleet_network(sites=12, per_site=7, rng=rng)
    fleet = FleetAllocator(network)
    assert fleet.parts == 12
    current = {e.id: random_demand(rng, e.id) for e in network.evses if rng.random() < 0.8}

    first = fleet.allocate(sessions=list(current.values()), now=0, period_s=PERIOD_S)
    whole = allocate(sessions=list(current.values()), now=0, period_s=PERIOD_S, network=network)
    assert first == whole
    assert fleet.solved_parts == 12

    changed = rng.choice(network.evses).id
    current[changed] = random_demand(rng, changed)
    second = fleet.allocate(sessions=list(current.values()), now=1, period_s=PERIOD_S)
    assert second == allocate(
        sessions=list(current.values()), now=1, period_s=PERIOD_S, network=network
    )
    assert fleet.solved_parts == 1

    fleet.allocate(sessions=list(current.values()), now=2, period_s=PERIOD_S)
    assert fleet.solved_parts == 0


def test_departures_in_periods_are_solved_again_when_the_clock_moves() -> None:
    network = fleet_network(sites=3, per_site=4, rng=random.Random(1))
    fleet = FleetAllocator(network)
    sessions = [
        SessionDemand(evse_id="s0-e0", energy_wh=20_000, max_power_w=7200.0, departure_period=9)
    ]
    fleet.allocate(sessions=sessions, now=0, period_s=PERIOD_S)
    fleet.allocate(sessions=sessions, now=1, period_s=PERIOD_S)
    assert fleet.solved_parts == 3


def test_a_session_on_an_unknown_evse_is_rejected() -> None:
    fleet = FleetAllocator(fleet_network(sites=2, per_site=2, rng=random.Random(2)))
    bad = SessionDemand(evse_id="nowhere", energy_wh=1, max_power_w=7200.0, departure_in_s=60.0)
    with pytest.raises(InvalidInput, match="nowhere"):
        fleet.allocate(sessions=[bad], now=0, period_s=PERIOD_S)
