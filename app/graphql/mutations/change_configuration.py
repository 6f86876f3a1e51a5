"""`changeConfiguration`: set one configuration key; outcome on commandResult."""

import strawberry

from app.graphql.context import Info
from app.graphql.mutations.remote_operation import dispatch, not_found, station_key
from app.graphql.permissions import IsOperatorTechnician
from app.graphql.types.remote_ops import RemoteOperationResult
from app.services.commands import CommandKind
from app.services.remote_operations import OperationRequest


async def change_configuration(
    info: Info, station_id: strawberry.ID, key: str, value: str
) -> RemoteOperationResult:
    station = station_key(station_id)
    if station is None:
        return not_found(station_id)
    request = OperationRequest(
        CommandKind.CHANGE_CONFIGURATION, station_id=station, params={"key": key, "value": value}
    )
    return await dispatch(info, request, station_id)


@strawberry.type
class ChangeConfigurationMutation:
    change_configuration: RemoteOperationResult = strawberry.mutation(
        resolver=change_configuration,
        description="Set one configuration key (1.6 ChangeConfiguration; 2.0.1 SetVariables with "
        "Component.Variable). stationAnswer RebootRequired: the value applies after a reset. "
        "The station's password is changed only by rotateStationPassword.",
        permission_classes=[IsOperatorTechnician],
    )
