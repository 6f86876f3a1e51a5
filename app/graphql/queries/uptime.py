"""`uptime(evseId|stationId|locationId, from, to)`, `worstEvses(from, to, first)` and
`maintenanceWindows(from, to, stationId?, kind?)`."""

from datetime import datetime
from typing import Annotated

import strawberry

from app.domain.errors import InvalidInput, NotFound
from app.domain.uptime import ExclusionKind
from app.graphql.context import Info
from app.graphql.permissions import IsOperator, operator_scope
from app.graphql.types import node
from app.graphql.types.uptime import (
    EvseUptime,
    MaintenanceWindow,
    UptimeReport,
)
from app.services import uptime

MAX_WORST = 100


def _key(value: strawberry.ID | None, type_name: str) -> str | None:
    if value is None:
        return None
    decoded = node.decode(value)
    if decoded is None or decoded[0] != type_name:
        raise NotFound(type_name, value)
    return decoded[1]


async def resolve_uptime(
    info: Info,
    from_: Annotated[datetime, strawberry.argument(name="from")],
    to: datetime,
    evse_id: strawberry.ID | None = None,
    station_id: strawberry.ID | None = None,
    location_id: strawberry.ID | None = None,
) -> UptimeReport:
    evse_key = _key(evse_id, node.EVSE)
    location_key = _key(location_id, node.LOCATION)
    report = await uptime.uptime_report(
        session_factory=info.context.session_factory,
        scope=operator_scope(info),
        start=from_,
        end=to,
        evse_id=int(evse_key) if evse_key is not None else None,
        station_id=_key(station_id, node.CHARGING_STATION),
        location_id=int(location_key) if location_key is not None else None,
    )
    return UptimeReport.from_service(report)


async def resolve_worst_evses(
    info: Info,
    from_: Annotated[datetime, strawberry.argument(name="from")],
    to: datetime,
    first: int = 10,
) -> list[EvseUptime]:
    if not 1 <= first <= MAX_WORST:
        raise InvalidInput(f"first must be from 1 to {MAX_WORST}, got {first}")
    rows = await uptime.worst_evses(
        session_factory=info.context.session_factory,
        scope=operator_scope(info),
        start=from_,
        end=to,
        limit=first,
    )
    return [EvseUptime.from_service(row) for row in rows]


async def resolve_maintenance_windows(
    info: Info,
    from_: Annotated[datetime, strawberry.argument(name="from")],
    to: datetime,
    station_id: strawberry.ID | None = None,
    kind: ExclusionKind | None = None,
) -> list[MaintenanceWindow]:
    rows = await uptime.list_maintenance_windows(
        session_factory=info.context.session_factory,
        scope=operator_scope(info),
        start=from_,
        end=to,
        station_id=_key(station_id, node.CHARGING_STATION),
        kind=kind,
    )
    return [MaintenanceWindow.from_row(row) for row in rows]


@strawberry.type
class UptimeQueries:
    uptime: UptimeReport = strawberry.field(
        resolver=resolve_uptime,
        description="Uptime per 23 CFR 680.116(b) of one EVSE, a station's EVSEs or a "
        "location's, over [from, to) (operator API). Give exactly one id.",
        permission_classes=[IsOperator],
    )
    worst_evses: list[EvseUptime] = strawberry.field(
        resolver=resolve_worst_evses,
        description="The network's EVSEs with the lowest uptime over [from, to), worst first.",
        permission_classes=[IsOperator],
    )
    maintenance_windows: list[MaintenanceWindow] = strawberry.field(
        resolver=resolve_maintenance_windows,
        description="Maintenance windows and excluded outages overlapping [from, to), of your "
        "network or one station, oldest first.",
        permission_classes=[IsOperator],
    )
