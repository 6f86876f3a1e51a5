"""`acknowledgeAlert`: an operator takes an alert on (OPEN → ACKNOWLEDGED)."""

from datetime import UTC, datetime
from typing import Annotated

import strawberry

from app.domain.errors import Conflict, NotFound
from app.graphql.context import Info
from app.graphql.permissions import IsOperatorTechnician, actor, operator_scope
from app.graphql.types import alert as types
from app.graphql.types import node
from app.services import alerts, audit


@strawberry.input
class AcknowledgeAlertInput:
    alert_id: strawberry.ID
    by: str = strawberry.field(description="Who takes it on (name or team), up to 100 chars.")


AcknowledgeAlertResult = Annotated[
    types.AlertPayload | types.AlertNotFound | types.AlertAlreadyResolved,
    strawberry.union("AcknowledgeAlertResult"),
]


async def acknowledge_alert(info: Info, input: AcknowledgeAlertInput) -> AcknowledgeAlertResult:
    missing = types.AlertNotFound(message=f"alert {input.alert_id!r} not found")
    key = node.decode_int(input.alert_id, types.ALERT)
    if key is None:
        return missing
    scope = operator_scope(info)
    factory = info.context.session_factory
    try:
        row = await alerts.acknowledge_alert(
            session_factory=factory, bus=info.context.bus, scope=scope, alert_id=key,
            by=input.by, at=datetime.now(UTC),
        )  # fmt: skip
    except NotFound:
        return missing
    except Conflict as exc:
        row = await alerts.get_alert(session_factory=factory, scope=scope, alert_id=key)
        return types.AlertAlreadyResolved(message=str(exc), alert=types.Alert.from_row(row))
    await audit.record_now(
        session_factory=factory, actor=actor(info), operator_id=scope.operator_id,
        action="alert.acknowledge", target=f"alert:{key}", detail={"by": input.by},
    )  # fmt: skip
    return types.AlertPayload(alert=types.Alert.from_row(row))


@strawberry.type
class AcknowledgeAlertMutation:
    acknowledge_alert: AcknowledgeAlertResult = strawberry.mutation(
        resolver=acknowledge_alert,
        description="Take an alert on (idempotent); a resolved one is AlertAlreadyResolved.",
        permission_classes=[IsOperatorTechnician],
    )
