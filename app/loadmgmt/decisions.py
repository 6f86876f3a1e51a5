"""One scheduling decision: sessions and station states in, the limits to send out (pure)."""

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from app.domain.allocation import (
    FleetAllocator,
    Network,
    SessionDemand,
    compile_network,
    constraint_currents,
    violated,
)
from app.services.capacity_compiler import CompiledSite, pinned

#: A limit that moves by less than this is not re-sent (chargers and EVs settle slowly).
MIN_CHANGE_A = 1.0


@dataclass(frozen=True, slots=True)
class Demand:
    """What the scheduler knows of one active session."""

    session_id: int
    evse_id: int
    energy_wh: int
    departure_in_s: float
    ev_max_w: float
    priority: int = 0


@dataclass(slots=True)
class Plan:
    #: The limit each session's EVSE holds after this decision (sent or kept), in A.
    limits_a: dict[int, float] = field(default_factory=dict)
    #: The subset of `limits_a` to send now (new sessions, moves >= MIN_CHANGE_A, safety).
    to_send: dict[int, float] = field(default_factory=dict)
    #: Why each EVSE holds what it holds.
    reasons: dict[int, str] = field(default_factory=dict)
    #: Independent parts of the site the allocator solved (a part whose inputs did not change
    #: keeps its last result).
    solved_parts: int = 0


class SiteAllocators:
    """One `FleetAllocator` per site, kept while the site's network stays the same, so a part
    of the site whose sessions did not change is not solved again."""

    def __init__(self) -> None:
        self._by_site: dict[int, tuple[object, FleetAllocator]] = {}

    def for_site(self, site_id: int) -> Callable[[Network], FleetAllocator]:
        def allocator(network: Network) -> FleetAllocator:
            key = (
                network.evses,
                tuple((c.name, c.limit_a, tuple(sorted(c.coeffs.items())))
                      for c in network.constraints),
            )  # fmt: skip
            kept = self._by_site.get(site_id)
            if kept is None or kept[0] != key:
                kept = (key, FleetAllocator(network))
                self._by_site[site_id] = kept
            return kept[1]

        return allocator

    def keep_only(self, site_ids: set[int]) -> None:
        for gone in set(self._by_site) - site_ids:
            del self._by_site[gone]


def decide(
    site: CompiledSite,
    demands: Sequence[Demand],
    *,
    period_s: float,
    fixed_a: Mapping[int, float],
    held_a: Mapping[int, float],
    min_change_a: float = MIN_CHANGE_A,
    allocator: Callable[[Network], FleetAllocator] = FleetAllocator,
) -> Plan:
    """Allocate, then send only what moved.

    `fixed_a`: EVSEs whose draw we cannot change now (an offline station's safe default, a
    refused profile's last accepted limit); their room is taken off the limits. `held_a`: the
    limit each session's EVSE holds now (the last one its station accepted). A move smaller than
    `min_change_a` is not sent, unless keeping the old, higher value would exceed a limit.
    """
    constraints = pinned(site, fixed_a)
    network = compile_network(site.network.evses, constraints)
    wanted = [d for d in demands if d.evse_id not in fixed_a]
    fleet = allocator(network)
    pilots = fleet.allocate(
        sessions=[
            SessionDemand(
                evse_id=str(d.evse_id),
                energy_wh=d.energy_wh,
                max_power_w=d.ev_max_w,
                departure_in_s=max(d.departure_in_s, period_s),
                priority=d.priority,
            )
            for d in wanted
        ],
        now=0,
        period_s=period_s,
    )
    plan = Plan(solved_parts=fleet.solved_parts)
    new = {d.evse_id: _floor(pilots.get(str(d.evse_id), 0.0)) for d in wanted}
    effective = dict(new)
    for evse_id, amps in new.items():
        old = held_a.get(evse_id)
        if old is not None and abs(amps - old) < min_change_a:
            effective[evse_id] = old
    if violated(network, _vector(network.index, effective)):
        # Keeping small decreases would overload: send them after all.
        for evse_id, amps in new.items():
            if amps < effective[evse_id]:
                effective[evse_id] = amps
    currents = constraint_currents(network, _vector(network.index, effective))
    for d in wanted:
        amps = effective[d.evse_id]
        plan.limits_a[d.evse_id] = amps
        plan.reasons[d.evse_id] = _why(network, currents, d, amps)
        if held_a.get(d.evse_id) != amps:
            plan.to_send[d.evse_id] = amps
    for d in demands:
        if d.evse_id in fixed_a:
            plan.limits_a[d.evse_id] = fixed_a[d.evse_id]
            plan.reasons[d.evse_id] = "uncontrolled: assumed drawing its fallback limit"
    return plan


def _why(network: Network, currents: Sequence[float], demand: Demand, amps: float) -> str:
    """What holds a session at its limit, for operators: the EVSE's or the EV's maximum, or
    the fullest constraint above it (paused: one with less room left than its minimum pilot)."""
    i = network.index[str(demand.evse_id)]
    room = sorted(
        (network.constraints[k].limit_a - currents[k], network.constraints[k].name)
        for k, *_ in network.members[i]
    )
    if amps <= 0:
        if room and room[0][0] < network.min_on_a[i]:
            return f"paused: no capacity left on {room[0][1]}"
        return "paused: others served first"
    if amps >= network.max_on_a[i] - 0.1:
        return "allocated: the EVSE's maximum"
    if demand.ev_max_w * network.amps_per_w[i] <= amps + 0.1:
        return "allocated: what the EV takes"
    if room and room[0][0] < MIN_CHANGE_A:
        return f"allocated: {room[0][1]} is full"
    return "allocated: shared by deadline and energy"


def _floor(amps: float) -> float:
    """Down to 0.1 A, the precision OCPP carries, so a rounded limit still fits."""
    return math.floor(amps * 10 + 1e-9) / 10


def _vector(index: Mapping[str, int], amps: Mapping[int, float]) -> list[float]:
    pilots = [0.0] * len(index)
    for evse_id, value in amps.items():
        pilots[index[str(evse_id)]] = value
    return pilots
