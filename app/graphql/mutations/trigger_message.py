"""`triggerMessage`: ask a station to send a message now; outcome on commandResult."""

import strawberry

from app.graphql.context import Info
from app.graphql.mutations.remote_operation import dispatch, evse_not_found, not_found, station_key
from app.graphql.permissions import IsOperatorTechnician
from app.graphql.types import node
from app.graphql.types.remote_ops import RemoteOperationResult, TriggerableMessage
from app.services.commands import CommandKind
from app.services.remote_operations import OperationRequest


async def trigger_message(
    info: Info,
    station_id: strawberry.ID,
    message: TriggerableMessage,
    evse_id: strawberry.ID | None = None,
) -> RemoteOperationResult:
    key = station_key(station_id)
    if key is None:
        return not_found(station_id)
    evse_key = node.decode_int(evse_id, node.EVSE) if evse_id is not None else None
    if evse_id is not None and evse_key is None:
        return evse_not_found(evse_id)
    request = OperationRequest(
        CommandKind.TRIGGER_MESSAGE,
        station_id=key,
        evse_key=evse_key,
        params={"message": message.value},
    )
    return await dispatch(info, request, evse_id or station_id)


@strawberry.type
class TriggerMessageMutation:
    trigger_message: RemoteOperationResult = strawberry.mutation(
        resolver=trigger_message,
        description="Ask a station (or one EVSE) to send a message now, e.g. STATUS_NOTIFICATION.",
        permission_classes=[IsOperatorTechnician],
    )
