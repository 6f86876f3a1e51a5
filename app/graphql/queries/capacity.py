"""`capacityNode`, `capacityNodes` and `chargingLimit`: load management for operators."""

import strawberry

from app.db.types import utcnow
from app.domain.errors import NotFound
from app.graphql.context import Info
from app.graphql.permissions import IsOperator, operator_scope
from app.graphql.types import node
from app.graphql.types.capacity import CAPACITY_NODE, CHARGING_SESSION, CapacityNode, ChargingLimit
from app.services import capacity_views, scoping


async def capacity_node(info: Info, id: strawberry.ID) -> CapacityNode | None:
    key = node.decode_int(id, CAPACITY_NODE)
    if key is None:
        return None
    factory = info.context.session_factory
    try:
        await scoping.check_capacity_node(
            session_factory=factory, scope=operator_scope(info), node_id=key
        )
        view = await capacity_views.node_view(session_factory=factory, node_id=key, now=utcnow())
    except NotFound:
        return None
    return CapacityNode.from_view(view)


async def capacity_nodes(info: Info, location_id: strawberry.ID) -> list[CapacityNode]:
    key = node.decode_int(location_id, node.LOCATION)
    if key is None:
        return []
    factory = info.context.session_factory
    try:
        await scoping.check_location(
            session_factory=factory, scope=operator_scope(info), location_id=key
        )
    except NotFound:
        return []
    rows = await capacity_views.nodes_of_location(session_factory=factory, location_id=key)
    now = utcnow()
    return [
        CapacityNode.from_view(
            await capacity_views.node_view(session_factory=factory, node_id=row.id, now=now)
        )
        for row in rows
        if row.id is not None
    ]


async def charging_limit(info: Info, session_id: strawberry.ID) -> ChargingLimit | None:
    key = node.decode_int(session_id, CHARGING_SESSION)
    if key is None:
        return None
    try:
        await scoping.check_session(
            session_factory=info.context.session_factory, scope=operator_scope(info), session_id=key
        )
    except NotFound:
        return None
    row = await capacity_views.session_limit(
        session_factory=info.context.session_factory, session_id=key
    )
    return ChargingLimit.from_row(row) if row is not None else None


@strawberry.type
class CapacityQueries:
    capacity_node: CapacityNode | None = strawberry.field(
        resolver=capacity_node,
        description="A capacity node: limits now and ahead, allocated and measured load "
        "(operator API).",
        permission_classes=[IsOperator],
    )
    capacity_nodes: list[CapacityNode] = strawberry.field(
        resolver=capacity_nodes,
        description="Every capacity node of a location, root first (operator API).",
        permission_classes=[IsOperator],
    )
    charging_limit: ChargingLimit | None = strawberry.field(
        resolver=charging_limit,
        description="The limit the scheduler holds a session to, and why (operator API).",
        permission_classes=[IsOperator],
    )
