"""`resetStation`: reboot a station (SOFT or HARD); the outcome arrives on commandResult."""

import strawberry

from app.graphql.context import Info
from app.graphql.mutations.remote_operation import dispatch, not_found, station_key
from app.graphql.permissions import IsOperatorTechnician
from app.graphql.types.remote_ops import RemoteOperationResult, ResetType
from app.services.commands import CommandKind
from app.services.remote_operations import OperationRequest


async def reset_station(
    info: Info, station_id: strawberry.ID, type: ResetType = ResetType.SOFT
) -> RemoteOperationResult:
    key = station_key(station_id)
    if key is None:
        return not_found(station_id)
    request = OperationRequest(
        CommandKind.RESET, station_id=key, params={"hard": type == ResetType.HARD}
    )
    return await dispatch(info, request, station_id)


@strawberry.type
class ResetStationMutation:
    reset_station: RemoteOperationResult = strawberry.mutation(
        resolver=reset_station,
        description="Reboot a station: SOFT or HARD. Answers at once with a command; on "
        "commandResult it becomes ACCEPTED_PENDING (progress Rebooting) and ACCEPTED "
        "(progress Booted) once the station has booted again, or REJECTED / TIMEOUT.",
        permission_classes=[IsOperatorTechnician],
    )
