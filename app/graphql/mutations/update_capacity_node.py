"""`updateCapacityNode`: change a node's limits, base load, wiring or place in the tree."""

from typing import Annotated, Any

import strawberry

from app.db.models.capacity import PhaseRotation, PhaseWiring
from app.db.types import utcnow
from app.domain.errors import InvalidInput, NotFound
from app.graphql.context import Info
from app.graphql.mutations.capacity_node_fields import check_owned, decode_ids, steps_text
from app.graphql.permissions import IsOperatorAdmin, operator_scope
from app.graphql.types import capacity as types
from app.graphql.types import node
from app.services import capacity_tree, capacity_views, scoping


@strawberry.input(description="Only the fields given change; null clears a nullable one.")
class UpdateCapacityNodeInput:
    node_id: strawberry.ID
    name: str | None = strawberry.UNSET
    parent_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Move the node under another; null: a top node."
    )
    limit_a: float | None = strawberry.field(
        default=strawberry.UNSET, description="Amps on each line."
    )
    limit_w: int | None = strawberry.field(
        default=strawberry.UNSET, description="Watts over all lines."
    )
    base_load_a: float | None = strawberry.UNSET
    base_load_w: int | None = strawberry.UNSET
    station_id: strawberry.ID | None = strawberry.UNSET
    evse_id: strawberry.ID | None = strawberry.UNSET
    phases: PhaseWiring | None = strawberry.UNSET
    phase_rotation: PhaseRotation | None = strawberry.UNSET
    min_current_a: float | None = strawberry.UNSET
    max_current_a: float | None = strawberry.UNSET
    current_steps_a: list[float] | None = strawberry.UNSET
    priority: int | None = strawberry.field(
        default=strawberry.UNSET, description="EVSE nodes: higher is served first."
    )


UpdateCapacityNodeResult = Annotated[
    types.CapacityNodePayload | types.CapacityNodeNotFound | types.InvalidCapacityNode,
    strawberry.union("UpdateCapacityNodeResult"),
]

#: Fields that must not be set to null (they have a value on every node).
_NOT_NULL = ("name", "base_load_a", "base_load_w", "phases", "phase_rotation", "min_current_a",
             "max_current_a", "priority")  # fmt: skip


async def update_capacity_node(
    info: Info, input: UpdateCapacityNodeInput
) -> UpdateCapacityNodeResult:
    factory = info.context.session_factory
    key = node.decode_int(input.node_id, types.CAPACITY_NODE)
    if key is None:
        return types.CapacityNodeNotFound(message=f"capacity node {input.node_id!r} not found")
    changes: dict[str, Any] = {
        name: value
        for name in capacity_tree.CHANGEABLE
        if (value := getattr(input, name)) is not strawberry.UNSET
    }
    try:
        for name in _NOT_NULL:
            if name in changes and changes[name] is None:
                raise InvalidInput(f"{name}=null: expected a value")
        await scoping.check_capacity_node(
            session_factory=factory, scope=operator_scope(info), node_id=key
        )
        changes = decode_ids(changes)
        await check_owned(info, changes)
        if "current_steps_a" in changes:
            changes["current_steps_a"] = steps_text(changes["current_steps_a"])
        await capacity_tree.update_node(
            session_factory=factory, bus=info.context.bus, node_id=key, changes=changes
        )
    except NotFound as exc:
        return types.CapacityNodeNotFound(message=str(exc))
    except InvalidInput as exc:
        return types.InvalidCapacityNode(message=str(exc))
    view = await capacity_views.node_view(session_factory=factory, node_id=key, now=utcnow())
    return types.CapacityNodePayload(node=types.CapacityNode.from_view(view))


@strawberry.type
class UpdateCapacityNodeMutation:
    update_capacity_node: UpdateCapacityNodeResult = strawberry.mutation(
        resolver=update_capacity_node,
        description="Change a node of a site's electrical tree (limits, base load, phase "
        "wiring, attached station or EVSE, parent); refused with a message naming the bad "
        "value when it would make a cycle or an impossible limit (operator API).",
        permission_classes=[IsOperatorAdmin],
    )
