"""`getConfiguration`: read a station's configuration; outcome on commandResult."""

import strawberry

from app.graphql.context import Info
from app.graphql.mutations.remote_operation import dispatch, not_found, station_key
from app.graphql.permissions import IsOperatorTechnician
from app.graphql.types.remote_ops import RemoteOperationResult
from app.services.commands import CommandKind
from app.services.remote_operations import OperationRequest


async def get_configuration(
    info: Info, station_id: strawberry.ID, keys: list[str] | None = None
) -> RemoteOperationResult:
    key = station_key(station_id)
    if key is None:
        return not_found(station_id)
    request = OperationRequest(
        CommandKind.GET_CONFIGURATION, station_id=key, params={"keys": keys or []}
    )
    return await dispatch(info, request, station_id)


@strawberry.type
class GetConfigurationMutation:
    get_configuration: RemoteOperationResult = strawberry.mutation(
        resolver=get_configuration,
        description="Read a station's configuration (1.6 GetConfiguration: no keys = all; 2.0.1 "
        "GetVariables: keys as Component.Variable). Once ACCEPTED, stationConfiguration shows "
        "the values with their read time.",
        permission_classes=[IsOperatorTechnician],
    )
