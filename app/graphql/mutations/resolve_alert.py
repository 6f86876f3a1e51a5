"""`resolveAlert`: an operator closes an alert by hand."""

from datetime import UTC, datetime
from typing import Annotated

import strawberry

from app.domain.errors import NotFound
from app.graphql.context import Info
from app.graphql.permissions import IsOperatorTechnician, actor, operator_scope
from app.graphql.types import alert as types
from app.graphql.types import node
from app.services import alerts, audit


@strawberry.input
class ResolveAlertInput:
    alert_id: strawberry.ID
    by: str = strawberry.field(description="Who resolved it (name or team), up to 100 chars.")


ResolveAlertResult = Annotated[
    types.AlertPayload | types.AlertNotFound, strawberry.union("ResolveAlertResult")
]


async def resolve_alert(info: Info, input: ResolveAlertInput) -> ResolveAlertResult:
    missing = types.AlertNotFound(message=f"alert {input.alert_id!r} not found")
    key = node.decode_int(input.alert_id, types.ALERT)
    if key is None:
        return missing
    try:
        row = await alerts.resolve_alert(
            session_factory=info.context.session_factory, bus=info.context.bus,
            scope=operator_scope(info), alert_id=key, by=input.by, at=datetime.now(UTC),
        )  # fmt: skip
    except NotFound:
        return missing
    await audit.record_now(
        session_factory=info.context.session_factory, actor=actor(info),
        operator_id=operator_scope(info).operator_id, action="alert.resolve",
        target=f"alert:{key}", detail={"by": input.by},
    )  # fmt: skip
    return types.AlertPayload(alert=types.Alert.from_row(row))


@strawberry.type
class ResolveAlertMutation:
    resolve_alert: ResolveAlertResult = strawberry.mutation(
        resolver=resolve_alert,
        description="Resolve an alert by hand (idempotent). If the condition persists, the "
        "next report opens a new alert.",
        permission_classes=[IsOperatorTechnician],
    )
