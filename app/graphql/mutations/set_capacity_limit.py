"""`setCapacityLimit`: limit a capacity node for a time window (demand response, operators)."""

from datetime import datetime
from typing import Annotated

import strawberry

from app.db.types import utcnow
from app.domain.errors import InvalidInput, NotFound
from app.graphql.context import Info
from app.graphql.permissions import IsOperatorAdmin, operator_scope
from app.graphql.types import capacity as types
from app.graphql.types import node
from app.services import capacity, capacity_views, scoping


@strawberry.input
class SetCapacityLimitInput:
    node_id: strawberry.ID
    limit_a: float | None = strawberry.field(default=None, description="Amps on each line.")
    limit_w: int | None = strawberry.field(default=None, description="Watts over all lines.")
    from_: datetime = strawberry.field(name="from")
    to: datetime


SetCapacityLimitResult = Annotated[
    types.CapacityLimitPayload | types.CapacityNodeNotFound | types.InvalidCapacityLimit,
    strawberry.union("SetCapacityLimitResult"),
]


async def set_capacity_limit(info: Info, input: SetCapacityLimitInput) -> SetCapacityLimitResult:
    missing = types.CapacityNodeNotFound(message=f"capacity node {input.node_id!r} not found")
    key = node.decode_int(input.node_id, types.CAPACITY_NODE)
    if key is None:
        return missing
    factory = info.context.session_factory
    now = utcnow()
    try:
        await scoping.check_capacity_node(
            session_factory=factory, scope=operator_scope(info), node_id=key
        )
        row = await capacity.set_capacity_limit(
            session_factory=factory, bus=info.context.bus, node_id=key,
            limit_a=input.limit_a, limit_w=input.limit_w,
            valid_from=input.from_, valid_to=input.to, now=now,
        )  # fmt: skip
    except NotFound:
        return missing
    except InvalidInput as exc:
        return types.InvalidCapacityLimit(message=str(exc))
    view = await capacity_views.node_view(session_factory=factory, node_id=key, now=now)
    return types.CapacityLimitPayload(
        limit=types.CapacityLimit.from_row(row), node=types.CapacityNode.from_view(view)
    )


@strawberry.type
class SetCapacityLimitMutation:
    set_capacity_limit: SetCapacityLimitResult = strawberry.mutation(
        resolver=set_capacity_limit,
        description="Limit a node for a window; the lowest limit in force binds and new "
        "charging profiles go out at once (operator API).",
        permission_classes=[IsOperatorAdmin],
    )
