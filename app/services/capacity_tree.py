"""Operators describe a site's electrical tree: add, change, move and remove capacity nodes.

Every change is checked before it is stored (no cycles, EVSEs only at the leaves and attached
once, sane limits and pilot ranges) and then published on `LIMITS_CHANGED`, so the scheduler
recomputes with the new tree at once.
"""

from collections.abc import Mapping
from typing import Any, Final

from sqlmodel import col, delete, func, select

from app.db.engine import SessionFactory
from app.db.models import CapacityLimit, CapacityNode, ChargingStation, Evse
from app.db.models.capacity import CapacityNodeKind, PhaseRotation, PhaseWiring
from app.domain.errors import InvalidInput, NotFound
from app.events import EventBus
from app.services.capacity import LIMITS_CHANGED, create_node
from app.services.capacity_compiler import parse_steps
from app.services.scoping import MAX_TREE_DEPTH

#: Fields `update_node` may change (a node's kind is what it is: delete and add instead).
CHANGEABLE: Final = frozenset(
    {
        "name", "parent_id", "limit_a", "limit_w", "base_load_a", "base_load_w", "station_id",
        "evse_id", "phases", "phase_rotation", "min_current_a", "max_current_a",
        "current_steps_a", "priority",
    }
)  # fmt: skip


def _tree_event(kind: str, node: CapacityNode) -> dict[str, Any]:
    return {"type": kind, "node_id": node.id, "location_id": node.location_id}


async def _evse_not_attached(db: Any, evse_id: int, node_id: int | None) -> None:
    other = (await db.exec(select(CapacityNode.id).where(CapacityNode.evse_id == evse_id))).first()
    if other is not None and other != node_id:
        raise InvalidInput(f"EVSE {evse_id} is already attached to capacity node {other}")


async def add_node(
    *, session_factory: SessionFactory, bus: EventBus, **fields: Any
) -> CapacityNode:
    """`create_node` with the operator checks (an EVSE attached once), then published."""
    if fields.get("evse_id") is not None:
        async with session_factory() as db:
            await _evse_not_attached(db, int(fields["evse_id"]), None)
    node = await create_node(session_factory=session_factory, **fields)
    await bus.publish(LIMITS_CHANGED, _tree_event("CapacityNodeAdded", node))
    return node


def _check_values(node: CapacityNode) -> None:
    for name in ("limit_a", "limit_w", "base_load_a", "base_load_w"):
        value = getattr(node, name)
        if value is not None and value < 0:
            raise InvalidInput(f"{name}={value}: expected >= 0")
    if not 0 <= node.min_current_a <= node.max_current_a:
        raise InvalidInput(
            f"min_current_a={node.min_current_a}, max_current_a={node.max_current_a}: "
            "expected 0 <= min <= max"
        )
    steps = parse_steps(node.current_steps_a)
    if steps is not None and any(a < 0 for a in steps):
        raise InvalidInput(f"current_steps_a={node.current_steps_a!r}: expected amps >= 0")
    if (node.kind == CapacityNodeKind.EVSE) != (node.evse_id is not None):
        raise InvalidInput(
            f"kind={node.kind.value}, evse_id={node.evse_id}: an EVSE node, and only one, "
            "names its EVSE"
        )


async def update_node(
    *,
    session_factory: SessionFactory,
    bus: EventBus,
    node_id: int,
    changes: Mapping[str, Any],
) -> CapacityNode:
    """Change the given fields of a node (moving it with `parent_id`; None makes it a root).

    Refused with InvalidInput naming the bad value: a parent that is the node itself or below
    it (a cycle), an EVSE node as parent, an EVSE attached elsewhere, limits or base load below
    0, min above max current, steps that are not amps.
    """
    unknown = set(changes) - CHANGEABLE
    if unknown:
        raise InvalidInput(f"fields {sorted(unknown)}: expected some of {sorted(CHANGEABLE)}")
    async with session_factory() as db:
        node = await db.get(CapacityNode, node_id)
        if node is None:
            raise NotFound("CapacityNode", str(node_id))
        if "parent_id" in changes and changes["parent_id"] is not None:
            parent_id = int(changes["parent_id"])
            parent = await db.get(CapacityNode, parent_id)
            if parent is None:
                raise NotFound("CapacityNode", str(parent_id))
            if parent.kind == CapacityNodeKind.EVSE:
                raise InvalidInput(f"parent {parent_id} is an EVSE node: expected a node above")
            walker: CapacityNode | None = parent
            for _ in range(MAX_TREE_DEPTH):
                if walker is None:
                    break
                if walker.id == node_id:
                    raise InvalidInput(
                        f"parent {parent_id} is node {node_id} itself or below it: "
                        "the tree would have a cycle"
                    )
                walker = await db.get(CapacityNode, walker.parent_id) if walker.parent_id else None
            else:
                raise InvalidInput(f"parent {parent_id}: tree deeper than {MAX_TREE_DEPTH}")
            if parent.location_id is not None:
                node.location_id = parent.location_id
        if changes.get("evse_id") is not None:
            evse = await db.get(Evse, int(changes["evse_id"]))
            if evse is None:
                raise NotFound("Evse", str(changes["evse_id"]))
            await _evse_not_attached(db, int(changes["evse_id"]), node_id)
            node.station_id = evse.station_id
        if (
            changes.get("station_id") is not None
            and await db.get(ChargingStation, changes["station_id"]) is None
        ):
            raise NotFound("ChargingStation", changes["station_id"])
        for name, value in changes.items():
            if name == "phases" and value is not None:
                value = PhaseWiring(value)
            elif name == "phase_rotation" and value is not None:
                value = PhaseRotation(value)
            elif name == "name" and (not value or not str(value).strip()):
                raise InvalidInput(f"name={value!r}: expected a non-empty name")
            setattr(node, name, value if name != "name" else str(value)[:100])
        _check_values(node)
        db.add(node)
        await db.commit()
        await db.refresh(node)
    await bus.publish(LIMITS_CHANGED, _tree_event("CapacityNodeChanged", node))
    return node


async def delete_node(*, session_factory: SessionFactory, bus: EventBus, node_id: int) -> None:
    """Remove a node with no children, and its demand-response limits.

    A node with children is refused (move or delete them first): removing it would silently
    lift the limit it puts on everything below.
    """
    async with session_factory() as db:
        node = await db.get(CapacityNode, node_id)
        if node is None:
            raise NotFound("CapacityNode", str(node_id))
        children = (
            await db.exec(
                select(func.count())
                .select_from(CapacityNode)
                .where(CapacityNode.parent_id == node_id)
            )
        ).one()
        if children:
            raise InvalidInput(
                f"capacity node {node_id} has {children} child node(s): move or delete them first"
            )
        await db.exec(delete(CapacityLimit).where(col(CapacityLimit.node_id) == node_id))
        await db.delete(node)
        await db.commit()
    await bus.publish(LIMITS_CHANGED, _tree_event("CapacityNodeRemoved", node))


async def station_of_evse(*, session_factory: SessionFactory, evse_id: int) -> str:
    """The station an EVSE belongs to (for the caller's ownership check before attaching)."""
    async with session_factory() as db:
        evse = await db.get(Evse, evse_id)
    if evse is None:
        raise NotFound("Evse", str(evse_id))
    return evse.station_id
