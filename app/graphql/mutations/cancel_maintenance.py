"""`cancelMaintenance`: delete a scheduled maintenance window (its outage counts again)."""

from typing import Annotated

import strawberry

from app.domain.errors import NotFound
from app.domain.uptime import ExclusionKind
from app.graphql.context import Info
from app.graphql.permissions import IsOperatorTechnician, actor, operator_scope
from app.graphql.types import node
from app.graphql.types import uptime as types
from app.services import audit, uptime

RemoveResult = types.MaintenanceWindowPayload | types.MaintenanceNotFound


async def remove_window(info: Info, window_id: strawberry.ID, kind: ExclusionKind) -> RemoveResult:
    """Shared by cancelMaintenance and removeExcludedOutage: delete, audit, answer."""
    missing = types.MaintenanceNotFound(message=f"{kind.value} {window_id!r} not found")
    key = node.decode_int(window_id, types.MAINTENANCE_WINDOW)
    if key is None:
        return missing
    scope = operator_scope(info)
    try:
        row = await uptime.remove_maintenance_window(
            session_factory=info.context.session_factory, scope=scope, window_id=key, kind=kind
        )
    except NotFound:
        return missing
    await audit.record_now(
        session_factory=info.context.session_factory, actor=actor(info),
        operator_id=scope.operator_id, action=f"uptime.{kind.value.lower()}.remove",
        target=f"station:{row.station_id}",
        detail={"window": key, "evse": row.evse_id, "from": row.starts_at.isoformat(),
                "to": row.ends_at.isoformat(), "cause": row.cause},
    )  # fmt: skip
    return types.MaintenanceWindowPayload(window=types.MaintenanceWindow.from_row(row))


CancelMaintenanceResult = Annotated[RemoveResult, strawberry.union("CancelMaintenanceResult")]


async def cancel_maintenance(info: Info, id: strawberry.ID) -> CancelMaintenanceResult:
    return await remove_window(info, id, ExclusionKind.SCHEDULED_MAINTENANCE)


@strawberry.type
class CancelMaintenanceMutation:
    cancel_maintenance: CancelMaintenanceResult = strawberry.mutation(
        resolver=cancel_maintenance,
        description="Cancel a scheduled maintenance window; returns it as it was. Audited.",
        permission_classes=[IsOperatorTechnician],
    )
