"""The scheduler's sites: one capacity tree each, the sites an event names, a site's inputs."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.db.models import CapacityLimit, CapacityNode
from app.loadmgmt.ahead import HORIZON
from app.services.capacity_state import ActiveSession
from app.services.scoping import MAX_TREE_DEPTH


def split_trees(nodes: Sequence[CapacityNode]) -> dict[int, list[CapacityNode]]:
    """The nodes of each tree, by the id of its root. Trees share no node, hence no
    constraint: each is allocated on its own and an event on one never moves another."""
    by_id = {n.id: n for n in nodes if n.id is not None}
    trees: dict[int, list[CapacityNode]] = {}
    for node in nodes:
        root = node
        for _ in range(MAX_TREE_DEPTH):
            parent = by_id.get(root.parent_id) if root.parent_id is not None else None
            if parent is None:
                break
            root = parent
        assert root.id is not None
        trees.setdefault(root.id, []).append(node)
    return trees


@dataclass(slots=True)
class SiteIndex:
    """Which site (tree root) each node, EVSE, station and location belongs to."""

    by_node: dict[int, int] = field(default_factory=dict)
    by_evse: dict[int, int] = field(default_factory=dict)
    by_station: dict[str, set[int]] = field(default_factory=dict)
    by_location: dict[int, set[int]] = field(default_factory=dict)

    @classmethod
    def build(cls, trees: Mapping[int, Sequence[CapacityNode]]) -> "SiteIndex":
        """From the nodes alone (an EVSE node carries its EVSE's station id too)."""
        index = cls()
        for root, nodes in trees.items():
            for node in nodes:
                assert node.id is not None
                index.by_node[node.id] = root
                if node.evse_id is not None:
                    index.by_evse[node.evse_id] = root
                if node.station_id is not None:
                    index.by_station.setdefault(node.station_id, set()).add(root)
                if node.location_id is not None:
                    index.by_location.setdefault(node.location_id, set()).add(root)
        return index

    def sites_of(self, payload: Mapping[str, Any], *, tree_event: bool) -> set[int] | None:
        """The sites an event concerns; None when it may concern one not known yet (all).

        A tree or limit change names its node and location: the node's site, and every site of
        the location (a node moved or added there). A station, EVSE status or session event names
        its station and EVSE. An unknown one may be in a tree added since the index was built:
        every site then, each skipped unless its inputs changed.
        """
        sites: set[int] = set()
        if tree_event:
            node_id, location_id = payload.get("node_id"), payload.get("location_id")
            if node_id is not None and int(node_id) in self.by_node:
                sites.add(self.by_node[int(node_id)])
            if location_id is not None:
                sites |= self.by_location.get(int(location_id), set())
            return sites or None
        evse_id, station_id = payload.get("evse_id"), payload.get("station_id")
        if evse_id is not None and int(evse_id) in self.by_evse:
            sites.add(self.by_evse[int(evse_id)])
        if station_id is not None:
            sites |= self.by_station.get(str(station_id), set())
        return sites or None


def fingerprint(
    nodes: Sequence[CapacityNode],
    limits: Iterable[CapacityLimit],
    sessions: Iterable[ActiveSession],
    *,
    online: Iterable[str],
    fixed: Mapping[int, float],
    now: datetime,
) -> tuple[object, ...]:
    """Everything a site's decision depends on: equal fingerprints, equal decision.

    Limits count by whether they are in force now and whether they start within the horizon,
    so the site is recomputed when a limit starts, ends or comes into view.
    """
    return (
        tuple(tuple(getattr(n, f) for f in CapacityNode.model_fields) for n in nodes),
        tuple(
            (
                x.id,
                x.limit_a,
                x.limit_w,
                x.valid_from,
                x.valid_to,
                x.valid_from <= now,
                x.valid_from <= now + HORIZON,
                x.valid_to <= now + HORIZON,
            )
            for x in limits
        ),
        tuple(sessions),
        frozenset(online),
        tuple(sorted(fixed.items())),
    )
