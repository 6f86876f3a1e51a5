"""`alertRaised`: every new alert in the operator's network, as it is raised."""

import logging
from collections.abc import AsyncGenerator

import strawberry

from app.domain.alerts import AlertSeverity
from app.domain.errors import NotFound
from app.graphql.context import Info
from app.graphql.permissions import IsOperator, operator_scope
from app.graphql.types.alert import Alert
from app.services import alerts

log = logging.getLogger(__name__)
_RANK = {severity: rank for rank, severity in enumerate(AlertSeverity)}


async def alert_raised(
    info: Info, min_severity: AlertSeverity | None = None
) -> AsyncGenerator[Alert, None]:
    scope = operator_scope(info)
    limit = _RANK[min_severity or AlertSeverity.INFO]
    async with info.context.bus.subscribe(alerts.ALERTS_TOPIC) as subscription:
        async for _, payload in subscription:
            if payload.get("type") != "AlertRaised":
                continue
            if _RANK.get(AlertSeverity(payload.get("severity", "INFO")), 0) > limit:
                continue
            try:  # re-read: the row is the truth (and the scope check lives there)
                row = await alerts.get_alert(
                    session_factory=info.context.session_factory,
                    scope=scope,
                    alert_id=int(payload["alert_id"]),
                )
            except NotFound:
                continue
            except (KeyError, TypeError, ValueError):
                log.warning("dropped a malformed alert event: %r", payload, exc_info=True)
                continue
            yield Alert.from_row(row)


@strawberry.type
class AlertSubscriptions:
    alert_raised: AsyncGenerator[Alert, None] = strawberry.subscription(
        resolver=alert_raised,
        description="Alerts as they are raised (optionally only `minSeverity` and worse).",
        permission_classes=[IsOperator],
    )
