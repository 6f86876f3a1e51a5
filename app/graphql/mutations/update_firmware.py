"""`updateFirmware`: install firmware from a URL; progress and end on commandResult."""

from datetime import datetime

import strawberry

from app.graphql.context import Info
from app.graphql.mutations.remote_operation import dispatch, not_found, station_key
from app.graphql.permissions import IsOperatorTechnician
from app.graphql.types.remote_ops import RemoteOperationResult
from app.services.commands import CommandKind
from app.services.remote_operations import OperationRequest


async def update_firmware(
    info: Info, station_id: strawberry.ID, location: str, retrieve_at: datetime | None = None
) -> RemoteOperationResult:
    key = station_key(station_id)
    if key is None:
        return not_found(station_id)
    request = OperationRequest(
        CommandKind.UPDATE_FIRMWARE,
        station_id=key,
        params={"location": location, "retrieve_at": retrieve_at},
    )
    return await dispatch(info, request, station_id)


@strawberry.type
class UpdateFirmwareMutation:
    update_firmware: RemoteOperationResult = strawberry.mutation(
        resolver=update_firmware,
        description="Install firmware from a URL at or after retrieveAt (default now). On "
        "commandResult: ACCEPTED_PENDING with progress Downloading, Downloaded, Installing, "
        "then ACCEPTED (Installed: the station rebooted with the new version) or FAILED "
        "(DownloadFailed, InstallationFailed, ...). The job is in firmwareUpdates.",
        permission_classes=[IsOperatorTechnician],
    )
