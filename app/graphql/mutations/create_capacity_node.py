"""`createCapacityNode`: add a grid connection, site, circuit, station or EVSE to a tree."""

from typing import Annotated

import strawberry

from app.db.models.capacity import CapacityNodeKind, PhaseRotation, PhaseWiring
from app.db.types import utcnow
from app.domain.errors import InvalidInput, NotFound
from app.graphql.context import Info
from app.graphql.mutations.capacity_node_fields import check_owned, decode_ids, steps_text
from app.graphql.permissions import IsOperatorAdmin, operator_scope
from app.graphql.types import capacity as types
from app.services import capacity_tree, capacity_views


@strawberry.input
class CreateCapacityNodeInput:
    name: str
    kind: CapacityNodeKind
    parent_id: strawberry.ID | None = strawberry.field(
        default=None, description="The node above; none for a tree's top (give locationId)."
    )
    location_id: strawberry.ID | None = None
    limit_a: float | None = strawberry.field(default=None, description="Amps on each line.")
    limit_w: int | None = strawberry.field(default=None, description="Watts over all lines.")
    base_load_a: float = strawberry.field(default=0.0, description="Non-EV load, A per line.")
    base_load_w: int = strawberry.field(default=0, description="Non-EV load, W.")
    station_id: strawberry.ID | None = strawberry.field(
        default=None, description="The station a STATION node stands for."
    )
    evse_id: strawberry.ID | None = strawberry.field(
        default=None, description="The EVSE an EVSE node controls (required for EVSE nodes)."
    )
    phases: PhaseWiring = PhaseWiring.L1L2L3
    phase_rotation: PhaseRotation = PhaseRotation.RST
    min_current_a: float = 6.0
    max_current_a: float = 32.0
    current_steps_a: list[float] | None = strawberry.field(
        default=None, description="The only pilots the EVSE accepts besides 0; none = any."
    )
    priority: int = strawberry.field(
        default=0, description="EVSE nodes: sessions here are served before lower priorities."
    )


CreateCapacityNodeResult = Annotated[
    types.CapacityNodePayload | types.CapacityNodeNotFound | types.InvalidCapacityNode,
    strawberry.union("CreateCapacityNodeResult"),
]


async def create_capacity_node(
    info: Info, input: CreateCapacityNodeInput
) -> CreateCapacityNodeResult:
    factory = info.context.session_factory
    try:
        fields = decode_ids(
            {
                name: getattr(input, name)
                for name in ("parent_id", "location_id", "station_id", "evse_id")
            }
        )
        if (
            fields["parent_id"] is None
            and fields["location_id"] is None
            and operator_scope(info).operator_id is not None
        ):
            raise InvalidInput(
                "parentId and locationId are both empty: a top node needs a location"
            )
        await check_owned(info, fields)
        row = await capacity_tree.add_node(
            session_factory=factory, bus=info.context.bus, name=input.name, kind=input.kind,
            limit_a=input.limit_a, limit_w=input.limit_w, base_load_a=input.base_load_a,
            base_load_w=input.base_load_w, phases=input.phases,
            phase_rotation=input.phase_rotation, min_current_a=input.min_current_a,
            max_current_a=input.max_current_a, current_steps_a=steps_text(input.current_steps_a),
            priority=input.priority,
            **fields,
        )  # fmt: skip
    except NotFound as exc:
        return types.CapacityNodeNotFound(message=str(exc))
    except InvalidInput as exc:
        return types.InvalidCapacityNode(message=str(exc))
    assert row.id is not None
    view = await capacity_views.node_view(session_factory=factory, node_id=row.id, now=utcnow())
    return types.CapacityNodePayload(node=types.CapacityNode.from_view(view))


@strawberry.type
class CreateCapacityNodeMutation:
    create_capacity_node: CreateCapacityNodeResult = strawberry.mutation(
        resolver=create_capacity_node,
        description="Add a node to a site's electrical tree; the scheduler recomputes at once "
        "(operator API).",
        permission_classes=[IsOperatorAdmin],
    )
