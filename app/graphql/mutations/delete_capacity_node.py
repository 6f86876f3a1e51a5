"""`deleteCapacityNode`: remove a node that has no children, with its demand-response limits."""

from typing import Annotated

import strawberry

from app.domain.errors import InvalidInput, NotFound
from app.graphql.context import Info
from app.graphql.permissions import IsOperatorAdmin, operator_scope
from app.graphql.types import capacity as types
from app.graphql.types import node
from app.services import capacity_tree, scoping

DeleteCapacityNodeResult = Annotated[
    types.CapacityNodeDeleted | types.CapacityNodeNotFound | types.InvalidCapacityNode,
    strawberry.union("DeleteCapacityNodeResult"),
]


async def delete_capacity_node(info: Info, node_id: strawberry.ID) -> DeleteCapacityNodeResult:
    factory = info.context.session_factory
    missing = types.CapacityNodeNotFound(message=f"capacity node {node_id!r} not found")
    key = node.decode_int(node_id, types.CAPACITY_NODE)
    if key is None:
        return missing
    try:
        await scoping.check_capacity_node(
            session_factory=factory, scope=operator_scope(info), node_id=key
        )
        await capacity_tree.delete_node(session_factory=factory, bus=info.context.bus, node_id=key)
    except NotFound:
        return missing
    except InvalidInput as exc:
        return types.InvalidCapacityNode(message=str(exc))
    return types.CapacityNodeDeleted(node_id=node.global_id(types.CAPACITY_NODE, key))


@strawberry.type
class DeleteCapacityNodeMutation:
    delete_capacity_node: DeleteCapacityNodeResult = strawberry.mutation(
        resolver=delete_capacity_node,
        description="Remove a node with no children (move or delete them first) and its "
        "limits; the scheduler recomputes at once (operator API).",
        permission_classes=[IsOperatorAdmin],
    )
