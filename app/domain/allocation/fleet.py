"""Fleet-scale allocation: independent sites solved apart, only the ones whose inputs changed.

Sites that share no constraint are independent subproblems: the allocation of one never moves
another's. A fleet of 1,000 sites therefore does not need a 10,000-EVSE solve on every event;
a session starting on one site changes that site's inputs only, and only that site is solved
again. Each part remembers the inputs of its last solve and its result; a call compares the
inputs part by part (tuples of frozen demands compare cheaply) and reuses what did not move.
Solving part by part is also the faster full recompute: measured on the 1,000-site bench
fleet, one pass over the whole network costs 15-20 % more CPU than 1,000 small ones (the small
ones' lists stay in cache).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain

from app.domain.allocation.allocator import solve
from app.domain.allocation.model import SessionDemand
from app.domain.allocation.network import Network, compile_network
from app.domain.errors import InvalidInput


@dataclass(slots=True)
class _Part:
    network: Network
    inputs: tuple[object, ...] | None = None
    #: Pilots of the last solve, indexed like `network.evses`.
    pilots: list[float] | None = None


class FleetAllocator:
    """`allocate` over a compiled network, split into its connected parts and cached per part.

    Results are identical to one `allocate` call over the whole network (the parts share no
    constraint); only the time differs. `solved_parts` counts the parts the last call solved.
    """

    def __init__(self, network: Network) -> None:
        self.network = network
        by_component: dict[int, list[int]] = {}
        for i, component in enumerate(network.component_of):
            by_component.setdefault(component, []).append(i)
        self._parts: list[_Part] = []
        self._part_of: dict[str, int] = {}
        constraints_of: dict[int, list[int]] = {}
        for i, mems in enumerate(network.members):
            for member in mems:
                constraints_of.setdefault(network.component_of[i], []).append(member[0])
        for component, evse_indices in by_component.items():
            ks = sorted(set(constraints_of.get(component, ())))
            part = _Part(
                compile_network(
                    [network.evses[i] for i in evse_indices],
                    [network.constraints[k] for k in ks],
                )
            )
            for i in evse_indices:
                self._part_of[network.evses[i].id] = len(self._parts)
            self._parts.append(part)
        self.solved_parts = 0
        self._ids = tuple(chain.from_iterable(part.network.ids for part in self._parts))
        #: Every EVSE id, in `_ids` order: a call copies it and sets the values, which costs
        #: less than growing a new dict of 10,000 keys (about 1 ms of a full recompute).
        self._template = dict.fromkeys(self._ids, 0.0)

    @property
    def parts(self) -> int:
        """Number of independent parts (sites) the network splits into."""
        return len(self._parts)

    def allocate(
        self, *, sessions: Sequence[SessionDemand], now: int, period_s: float
    ) -> dict[str, float]:
        """Pilot current in amps for every EVSE, as `allocate` would return it."""
        parts = self._parts
        grouped: list[list[SessionDemand]] = [[] for _ in parts]
        part_of = self._part_of
        # Departures given as a period depend on `now`; in seconds they do not.
        by_period = False
        for session in sessions:
            p = part_of.get(session.evse_id)
            if p is None:
                raise InvalidInput(f"session on unknown EVSE {session.evse_id!r}")
            grouped[p].append(session)
            if session.departure_period is not None:
                by_period = True
        clock = (now if by_period else None, period_s)
        changed: list[int] = []
        new_inputs: list[tuple[object, ...]] = []
        for p, (part, own) in enumerate(zip(parts, grouped, strict=True)):
            inputs = (clock, *own)
            if part.pilots is None or inputs != part.inputs:
                changed.append(p)
                new_inputs.append(inputs)
        if changed and not period_s > 0:
            raise InvalidInput(f"period_s={period_s}, expected > 0")
        for p in changed:
            part = parts[p]
            part.pilots = solve(part.network, grouped[p], now=now, period_s=period_s)
        # Only now: a call that raised must not leave inputs cached beside stale pilots.
        for p, inputs in zip(changed, new_inputs, strict=True):
            parts[p].inputs = inputs
        self.solved_parts = len(changed)
        # One dict filled from the parts' lists, rather than one per part merged into the
        # result: ~2 ms less per full recompute of 10,000 EVSEs.
        result = self._template.copy()
        result.update(
            zip(self._ids, chain.from_iterable(_pilots(part) for part in parts), strict=True)
        )
        return result


def _pilots(part: _Part) -> list[float]:
    assert part.pilots is not None
    return part.pilots
