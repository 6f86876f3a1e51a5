"""`unlockConnector`: release an EVSE's cable lock; the outcome arrives on commandResult."""

import strawberry

from app.graphql.context import Info
from app.graphql.mutations.remote_operation import dispatch, evse_not_found
from app.graphql.permissions import IsOperatorTechnician
from app.graphql.types import node
from app.graphql.types.remote_ops import RemoteOperationResult
from app.services.commands import CommandKind
from app.services.remote_operations import OperationRequest


async def unlock_connector(info: Info, evse_id: strawberry.ID) -> RemoteOperationResult:
    evse_key = node.decode_int(evse_id, node.EVSE)
    if evse_key is None:
        return evse_not_found(evse_id)
    request = OperationRequest(CommandKind.UNLOCK_CONNECTOR, evse_key=evse_key, params={})
    return await dispatch(info, request, evse_id)


@strawberry.type
class UnlockConnectorMutation:
    unlock_connector: RemoteOperationResult = strawberry.mutation(
        resolver=unlock_connector,
        description="Release the cable lock of an EVSE's connector; the station's answer "
        "(Unlocked, UnlockFailed, ...) is the command's stationAnswer.",
        permission_classes=[IsOperatorTechnician],
    )
