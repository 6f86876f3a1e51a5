"""What remote operations left on a station: `stationConfiguration`, `firmwareUpdates`,
`diagnosticsUploads` (operator API, the caller's network only)."""

import strawberry

from app.domain.errors import InvalidInput, NotFound
from app.graphql.context import Info
from app.graphql.mutations.remote_operation import station_key
from app.graphql.permissions import IsOperator, operator_scope
from app.graphql.types.remote_ops import ConfigurationEntry, DiagnosticsUpload, FirmwareUpdate
from app.services import firmware, station_config

MAX_FIRST = 100


async def _station(info: Info, station_id: str) -> str:
    """The station's identity if it is in the caller's network; NotFound otherwise."""
    key = station_key(station_id)
    if key is None:
        raise NotFound("ChargingStation", station_id)
    await station_config.station_in_scope(
        session_factory=info.context.session_factory, scope=operator_scope(info), station_id=key
    )
    return key


def _check_first(first: int) -> None:
    if not 1 <= first <= MAX_FIRST:
        raise InvalidInput(f"first={first}: expected 1 to {MAX_FIRST}")


async def station_configuration(info: Info, station_id: strawberry.ID) -> list[ConfigurationEntry]:
    key = await _station(info, station_id)
    rows = await station_config.list_configuration(
        session_factory=info.context.session_factory, station_id=key
    )
    return [ConfigurationEntry.from_row(row) for row in rows]


async def firmware_updates(
    info: Info, station_id: strawberry.ID, first: int = 10
) -> list[FirmwareUpdate]:
    _check_first(first)
    key = await _station(info, station_id)
    rows = await firmware.list_firmware_updates(
        session_factory=info.context.session_factory, station_id=key, first=first
    )
    return [FirmwareUpdate.from_row(row) for row in rows]


async def diagnostics_uploads(
    info: Info, station_id: strawberry.ID, first: int = 10
) -> list[DiagnosticsUpload]:
    _check_first(first)
    key = await _station(info, station_id)
    rows = await firmware.list_diagnostics_uploads(
        session_factory=info.context.session_factory, station_id=key, first=first
    )
    return [DiagnosticsUpload.from_row(row) for row in rows]


@strawberry.type
class StationOpsQueries:
    station_configuration: list[ConfigurationEntry] = strawberry.field(
        resolver=station_configuration,
        description="A station's configuration as last read by getConfiguration (or set by "
        "changeConfiguration), each key with its read time.",
        permission_classes=[IsOperator],
    )
    firmware_updates: list[FirmwareUpdate] = strawberry.field(
        resolver=firmware_updates,
        description="A station's firmware update jobs, newest first (first: 1 to 100).",
        permission_classes=[IsOperator],
    )
    diagnostics_uploads: list[DiagnosticsUpload] = strawberry.field(
        resolver=diagnostics_uploads,
        description="A station's diagnostics uploads, newest first (first: 1 to 100).",
        permission_classes=[IsOperator],
    )
