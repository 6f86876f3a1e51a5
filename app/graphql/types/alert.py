"""Operator alerts, their filter, and the typed results of acknowledging and resolving one."""

from datetime import datetime

import strawberry
from strawberry import relay

from app.db import models
from app.domain.alerts import AlertSeverity, AlertSource, AlertState
from app.graphql import fields
from app.graphql.context import Info
from app.graphql.types import node

ALERT = "Alert"

strawberry.enum(AlertSeverity, description="CRITICAL first; INFO is for the record.")
strawberry.enum(
    AlertState,
    description="OPEN → ACKNOWLEDGED (someone is on it) → RESOLVED (by hand or automatically).",
)
strawberry.enum(
    AlertSource,
    description="STATUS (a status notification), DEVICE_EVENT (2.0.1 NotifyEvent), MONITOR.",
)


@strawberry.type(description="A fault in the network, counted while it lasts.")
class Alert:
    id: relay.GlobalID
    code: str = strawberry.field(description="The charger's error code, or a derived one.")
    severity: AlertSeverity
    state: AlertState
    source: AlertSource
    station_identity: str
    vendor_error_code: str | None
    info: str | None
    first_seen_at: datetime
    last_seen_at: datetime
    count: int = strawberry.field(description="Occurrences reported while the alert was live.")
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None = strawberry.field(
        description="Who resolved it; null with resolvedAt set means the condition cleared."
    )
    evse_key: strawberry.Private[int | None]

    @fields.field(description="The EVSE's OCPI uid; null for a station-wide alert.")
    async def evse_uid(self, info: Info) -> str | None:
        if self.evse_key is None:
            return None
        row = await info.context.loaders.evse.load(self.evse_key)
        return row.uid if row is not None else None

    @classmethod
    def from_row(cls, row: models.Alert) -> "Alert":
        assert row.id is not None
        return cls(
            id=node.global_id(ALERT, row.id),
            code=row.code,
            severity=row.severity,
            state=row.state,
            source=row.source,
            station_identity=row.station_id,
            vendor_error_code=row.vendor_error_code,
            info=row.info,
            first_seen_at=row.first_seen_at,
            last_seen_at=row.last_seen_at,
            count=row.count,
            acknowledged_at=row.acknowledged_at,
            acknowledged_by=row.acknowledged_by,
            resolved_at=row.resolved_at,
            resolved_by=row.resolved_by,
            evse_key=row.evse_id,
        )


@strawberry.input(description="Every list given narrows the result; empty or null: any.")
class AlertFilter:
    states: list[AlertState] | None = None
    severities: list[AlertSeverity] | None = None
    station_identities: list[str] | None = None
    codes: list[str] | None = None


@strawberry.type(description="A page of alerts, newest first.")
class AlertConnection(relay.Connection[Alert]):  # type: ignore[type-var]  # not a Node (yet)
    pass


@strawberry.type(description="The alert as it is now.")
class AlertPayload:
    alert: Alert


@strawberry.type(description="No alert with this id in the caller's network.")
class AlertNotFound:
    message: str


@strawberry.type(description="The alert is already resolved: there is nothing to acknowledge.")
class AlertAlreadyResolved:
    message: str
    alert: Alert
