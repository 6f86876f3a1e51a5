"""`uploadDiagnostics`: upload a station's diagnostics; progress on commandResult."""

import strawberry

from app.graphql.context import Info
from app.graphql.mutations.remote_operation import dispatch, not_found, station_key
from app.graphql.permissions import IsOperatorTechnician
from app.graphql.types.remote_ops import RemoteOperationResult
from app.services.commands import CommandKind
from app.services.remote_operations import OperationRequest


async def upload_diagnostics(
    info: Info, station_id: strawberry.ID, location: str
) -> RemoteOperationResult:
    key = station_key(station_id)
    if key is None:
        return not_found(station_id)
    request = OperationRequest(
        CommandKind.UPLOAD_DIAGNOSTICS, station_id=key, params={"location": location}
    )
    return await dispatch(info, request, station_id)


@strawberry.type
class UploadDiagnosticsMutation:
    upload_diagnostics: RemoteOperationResult = strawberry.mutation(
        resolver=upload_diagnostics,
        description="Have a station upload its diagnostics (1.6 GetDiagnostics; 2.0.1 GetLog) "
        "to a URL. On commandResult: ACCEPTED_PENDING with progress Uploading, then "
        "ACCEPTED (Uploaded) or FAILED. The job is in diagnosticsUploads.",
        permission_classes=[IsOperatorTechnician],
    )
