"""`scheduleMaintenance`: exclude a planned maintenance span of a station or EVSE from uptime.

Technicians may do it (they plan and carry out the work on site); every change is audited.
"""

from datetime import datetime
from typing import Annotated

import strawberry

from app.domain.errors import InvalidInput, NotFound
from app.domain.uptime import ExclusionKind, OutageCause
from app.graphql.context import Info
from app.graphql.permissions import IsOperatorTechnician, actor, operator_scope
from app.graphql.types import node
from app.graphql.types import uptime as types
from app.services import audit, uptime


@strawberry.input
class ScheduleMaintenanceInput:
    station_id: strawberry.ID
    evse_id: strawberry.ID | None = strawberry.field(
        default=None, description="One EVSE of the station; null for the whole station."
    )
    from_: datetime = strawberry.field(name="from")
    to: datetime
    reason: str = strawberry.field(description="Why, up to 255 chars.")


ScheduleMaintenanceResult = Annotated[
    types.MaintenanceWindowPayload | types.MaintenanceNotFound | types.InvalidMaintenance,
    strawberry.union("ScheduleMaintenanceResult"),
]


async def add_window(
    info: Info,
    *,
    station_id: strawberry.ID,
    evse_id: strawberry.ID | None,
    start: datetime,
    end: datetime,
    reason: str,
    kind: ExclusionKind,
    cause: OutageCause | None,
) -> types.MaintenanceWindowPayload | types.MaintenanceNotFound | types.InvalidMaintenance:
    """Shared by scheduleMaintenance and flagExcludedOutage: store, audit, answer."""
    station = node.decode(station_id)
    evse_key = node.decode_int(evse_id, node.EVSE) if evse_id is not None else None
    if station is None or station[0] != node.CHARGING_STATION:
        return types.MaintenanceNotFound(message=f"station {station_id!r} not found")
    if evse_id is not None and evse_key is None:
        return types.MaintenanceNotFound(message=f"EVSE {evse_id!r} not found")
    scope = operator_scope(info)
    try:
        row = await uptime.add_maintenance_window(
            session_factory=info.context.session_factory, scope=scope, station_id=station[1],
            evse_id=evse_key, kind=kind, starts_at=start, ends_at=end, reason=reason,
            by=actor(info), cause=cause,
        )  # fmt: skip
    except NotFound as exc:
        return types.MaintenanceNotFound(message=str(exc))
    except InvalidInput as exc:
        return types.InvalidMaintenance(message=str(exc))
    assert row.id is not None
    await audit.record_now(
        session_factory=info.context.session_factory, actor=actor(info),
        operator_id=scope.operator_id, action=f"uptime.{kind.value.lower()}.add",
        target=f"station:{row.station_id}",
        detail={"window": row.id, "evse": row.evse_id, "from": start.isoformat(),
                "to": end.isoformat(), "cause": row.cause, "reason": row.reason},
    )  # fmt: skip
    return types.MaintenanceWindowPayload(window=types.MaintenanceWindow.from_row(row))


async def schedule_maintenance(
    info: Info, input: ScheduleMaintenanceInput
) -> ScheduleMaintenanceResult:
    return await add_window(
        info, station_id=input.station_id, evse_id=input.evse_id, start=input.from_,
        end=input.to, reason=input.reason, kind=ExclusionKind.SCHEDULED_MAINTENANCE, cause=None,
    )  # fmt: skip


@strawberry.type
class ScheduleMaintenanceMutation:
    schedule_maintenance: ScheduleMaintenanceResult = strawberry.mutation(
        resolver=schedule_maintenance,
        description="Schedule maintenance of a station or one EVSE over [from, to): outage "
        "inside it does not count against uptime (23 CFR 680.116(b)(3)). Audited.",
        permission_classes=[IsOperatorTechnician],
    )
