"""`stationDiagnostics(stationId)` and `stationMessages(stationId, ...)` (operator API)."""

import strawberry

from app.domain.errors import NotFound
from app.graphql.context import Info
from app.graphql.permissions import IsOperator, operator_scope
from app.graphql.types import node
from app.graphql.types.diagnostics import OcppMessagePage, StationDiagnostics
from app.services import diagnostics


def _station_key(station_id: str) -> str:
    decoded = node.decode(station_id)
    if decoded is None or decoded[0] != node.CHARGING_STATION:
        raise NotFound(node.CHARGING_STATION, station_id)
    return decoded[1]


async def resolve_station_diagnostics(info: Info, station_id: strawberry.ID) -> StationDiagnostics:
    live = await diagnostics.station_live(
        session_factory=info.context.session_factory, scope=operator_scope(info),
        station_id=_station_key(station_id),
    )  # fmt: skip
    return StationDiagnostics.from_live(live)


async def resolve_station_messages(
    info: Info,
    station_id: strawberry.ID,
    first: int = 50,
    before: int | None = None,
    action: str | None = None,
) -> OcppMessagePage:
    page = await diagnostics.station_messages(
        session_factory=info.context.session_factory, scope=operator_scope(info),
        station_id=_station_key(station_id), first=first, before_id=before, action=action,
    )  # fmt: skip
    return OcppMessagePage.from_service(page)


@strawberry.type
class DiagnosticsQueries:
    station_diagnostics: StationDiagnostics = strawberry.field(
        resolver=resolve_station_diagnostics,
        description="One station of the caller's network, for diagnosis: live state (online, "
        "EVSE statuses, power per EVSE), firmware, configuration, open alerts, last sessions "
        "and OCPP messages. Another organisation's station is NOT_FOUND.",
        permission_classes=[IsOperator],
    )
    station_messages: OcppMessagePage = strawberry.field(
        resolver=resolve_station_messages,
        description="A station's logged OCPP frames, newest first (operator API): `first` up "
        "to 200, `before` the id of the oldest seen (next page), `action` e.g. StatusNotification.",
        permission_classes=[IsOperator],
    )
