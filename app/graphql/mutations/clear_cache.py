"""`clearCache`: empty a station's authorization cache; outcome on commandResult."""

import strawberry

from app.graphql.context import Info
from app.graphql.mutations.remote_operation import dispatch, not_found, station_key
from app.graphql.permissions import IsOperatorTechnician
from app.graphql.types.remote_ops import RemoteOperationResult
from app.services.commands import CommandKind
from app.services.remote_operations import OperationRequest


async def clear_cache(info: Info, station_id: strawberry.ID) -> RemoteOperationResult:
    key = station_key(station_id)
    if key is None:
        return not_found(station_id)
    request = OperationRequest(CommandKind.CLEAR_CACHE, station_id=key, params={})
    return await dispatch(info, request, station_id)


@strawberry.type
class ClearCacheMutation:
    clear_cache: RemoteOperationResult = strawberry.mutation(
        resolver=clear_cache,
        description="Empty a station's authorization cache.",
        permission_classes=[IsOperatorTechnician],
    )
