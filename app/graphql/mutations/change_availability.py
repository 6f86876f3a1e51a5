"""`changeAvailability`: a station or EVSE (in)operative; outcome on commandResult."""

import strawberry

from app.graphql.context import Info
from app.graphql.mutations.remote_operation import dispatch, evse_not_found, not_found, station_key
from app.graphql.permissions import IsOperatorTechnician
from app.graphql.types import node
from app.graphql.types.remote_ops import RemoteOperationResult
from app.services.commands import CommandKind
from app.services.remote_operations import OperationRequest


async def change_availability(
    info: Info, station_id: strawberry.ID, operative: bool, evse_id: strawberry.ID | None = None
) -> RemoteOperationResult:
    key = station_key(station_id)
    if key is None:
        return not_found(station_id)
    evse_key = node.decode_int(evse_id, node.EVSE) if evse_id is not None else None
    if evse_id is not None and evse_key is None:
        return evse_not_found(evse_id)
    request = OperationRequest(
        CommandKind.CHANGE_AVAILABILITY,
        station_id=key,
        evse_key=evse_key,
        params={"operative": operative},
    )
    return await dispatch(info, request, evse_id or station_id)


@strawberry.type
class ChangeAvailabilityMutation:
    change_availability: RemoteOperationResult = strawberry.mutation(
        resolver=change_availability,
        description="Make a station (no evseId) or one of its EVSEs operative or inoperative. "
        "stationAnswer Scheduled: a session delays it until it ends.",
        permission_classes=[IsOperatorTechnician],
    )
