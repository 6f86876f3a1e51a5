"""Capacity tree and demand-response limits: describe a site's electrical tree, change limits."""

from datetime import datetime
from typing import Any

from sqlmodel import col, select

from app.db.engine import SessionFactory
from app.db.models import CapacityLimit, CapacityNode, ChargingStation, Evse, Location
from app.db.models.capacity import CapacityNodeKind, LimitSource, PhaseRotation, PhaseWiring
from app.domain.errors import InvalidInput, NotFound
from app.events import EventBus
from app.services.capacity_compiler import parse_steps

LIMITS_CHANGED = "loadmgmt.limits-changed"
"""A node's limit changed: the scheduler recomputes at once."""


def allocation_changed(location_id: int) -> str:
    """New charging limits decided for the EVSEs of one location."""
    return f"location.{location_id}.allocation"


async def create_node(
    *,
    session_factory: SessionFactory,
    name: str,
    kind: CapacityNodeKind,
    location_id: int | None = None,
    parent_id: int | None = None,
    limit_a: float | None = None,
    limit_w: int | None = None,
    base_load_a: float = 0.0,
    base_load_w: int = 0,
    station_id: str | None = None,
    evse_id: int | None = None,
    phases: PhaseWiring = PhaseWiring.L1L2L3,
    phase_rotation: PhaseRotation = PhaseRotation.RST,
    min_current_a: float = 6.0,
    max_current_a: float = 32.0,
    current_steps_a: str | None = None,
    priority: int = 0,
) -> CapacityNode:
    """Add one node under `parent_id` (None: a tree's root). Its location is its parent's."""
    if (limit_a is not None and limit_a < 0) or (limit_w is not None and limit_w < 0):
        raise InvalidInput(f"limit_a={limit_a}, limit_w={limit_w}: expected >= 0")
    if not 0 <= min_current_a <= max_current_a:
        raise InvalidInput(
            f"min_current_a={min_current_a}, max_current_a={max_current_a}: "
            "expected 0 <= min <= max"
        )
    parse_steps(current_steps_a)
    if (kind == CapacityNodeKind.EVSE) != (evse_id is not None):
        raise InvalidInput(
            f"kind={kind.value}, evse_id={evse_id}: an EVSE node, and only one, names its EVSE"
        )
    async with session_factory() as db:
        if parent_id is not None:
            parent = await db.get(CapacityNode, parent_id)
            if parent is None:
                raise NotFound("CapacityNode", str(parent_id))
            if parent.kind == CapacityNodeKind.EVSE:
                raise InvalidInput(
                    f"parent {parent_id} is an EVSE node: expected a node above EVSEs"
                )
            location_id = parent.location_id if location_id is None else location_id
        elif location_id is not None and await db.get(Location, location_id) is None:
            raise NotFound("Location", str(location_id))
        if evse_id is not None:
            evse = await db.get(Evse, evse_id)
            if evse is None:
                raise NotFound("Evse", str(evse_id))
            station_id = evse.station_id
        elif station_id is not None and await db.get(ChargingStation, station_id) is None:
            raise NotFound("ChargingStation", station_id)
        node = CapacityNode(
            name=name[:100], kind=kind, location_id=location_id, parent_id=parent_id,
            limit_a=limit_a, limit_w=limit_w, base_load_a=base_load_a, base_load_w=base_load_w,
            station_id=station_id, evse_id=evse_id, phases=phases, phase_rotation=phase_rotation,
            min_current_a=min_current_a, max_current_a=max_current_a,
            current_steps_a=current_steps_a, priority=priority,
        )  # fmt: skip
        db.add(node)
        await db.commit()
        await db.refresh(node)
        return node


async def set_capacity_limit(
    *,
    session_factory: SessionFactory,
    bus: EventBus,
    node_id: int,
    valid_from: datetime,
    valid_to: datetime,
    now: datetime,
    limit_a: float | None = None,
    limit_w: int | None = None,
    source: LimitSource = LimitSource.OPERATOR,
) -> CapacityLimit:
    """Limit a node for a window (the lowest limit in force binds); the scheduler reacts at once."""
    if (limit_a is None) == (limit_w is None):
        raise InvalidInput(f"limitA={limit_a}, limitW={limit_w}: expected exactly one")
    if (limit_a is not None and limit_a < 0) or (limit_w is not None and limit_w < 0):
        raise InvalidInput(f"limitA={limit_a}, limitW={limit_w}: expected a limit >= 0")
    if valid_from.tzinfo is None or valid_to.tzinfo is None:
        raise InvalidInput("from/to: expected date-times with a time zone")
    if not valid_from < valid_to or valid_to <= now:
        raise InvalidInput(
            f"from={valid_from.isoformat()}, to={valid_to.isoformat()}: "
            "expected from < to and to in the future"
        )
    async with session_factory() as db:
        node = await db.get(CapacityNode, node_id)
        if node is None:
            raise NotFound("CapacityNode", str(node_id))
        limit = CapacityLimit(
            node_id=node_id, limit_a=limit_a, limit_w=limit_w,
            valid_from=valid_from, valid_to=valid_to, source=source,
        )  # fmt: skip
        db.add(limit)
        await db.commit()
        await db.refresh(limit)
    await bus.publish(LIMITS_CHANGED, limit_event(limit, location_id=node.location_id))
    return limit


def limit_event(limit: CapacityLimit, *, location_id: int | None) -> dict[str, Any]:
    return {
        "type": "CapacityLimitSet",
        "node_id": limit.node_id,
        "location_id": location_id,
        "limit_a": limit.limit_a,
        "limit_w": limit.limit_w,
        "valid_from": limit.valid_from.isoformat(),
        "valid_to": limit.valid_to.isoformat(),
    }


async def limits_ahead(
    *, session_factory: SessionFactory, node_ids: list[int], now: datetime
) -> list[CapacityLimit]:
    """Limits in force now or later on these nodes, earliest first."""
    if not node_ids:
        return []
    async with session_factory() as db:
        rows = await db.exec(
            select(CapacityLimit)
            .where(col(CapacityLimit.node_id).in_(node_ids), col(CapacityLimit.valid_to) > now)
            .order_by(col(CapacityLimit.valid_from), col(CapacityLimit.id))
        )
        return list(rows.all())
