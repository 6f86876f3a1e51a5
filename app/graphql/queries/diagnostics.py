"""`stationMessages(stationId, first, before, action)`: a station's OCPP message log."""

import strawberry

from app.domain.errors import NotFound
from app.graphql.context import Info
from app.graphql.permissions import IsOperator, operator_scope
from app.graphql.types import node
from app.graphql.types.diagnostics import OcppMessagePage
from app.services import diagnostics


async def resolve_station_messages(
    info: Info,
    station_id: strawberry.ID,
    first: int = 50,
    before: int | None = None,
    action: str | None = None,
) -> OcppMessagePage:
    decoded = node.decode(station_id)
    if decoded is None or decoded[0] != node.CHARGING_STATION:
        raise NotFound(node.CHARGING_STATION, station_id)
    page = await diagnostics.station_messages(
        session_factory=info.context.session_factory, scope=operator_scope(info),
        station_id=decoded[1], first=first, before_id=before, action=action,
    )  # fmt: skip
    return OcppMessagePage.from_service(page)


@strawberry.type
class DiagnosticsQueries:
    station_messages: OcppMessagePage = strawberry.field(
        resolver=resolve_station_messages,
        description="A station's logged OCPP frames, newest first (operator API): `first` up "
        "to 200, `before` the id of the oldest seen (next page), `action` e.g. StatusNotification.",
        permission_classes=[IsOperator],
    )
