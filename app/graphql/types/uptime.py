"""Uptime reports: the NEVI percentage and where the time went, per EVSE and in total."""

from datetime import datetime

import strawberry

from app.db import models
from app.domain.uptime import ExclusionKind, OutageCause
from app.domain.uptime import UptimeBreakdown as Breakdown
from app.graphql.types import node
from app.services import uptime as service

MAINTENANCE_WINDOW = "MaintenanceWindow"


@strawberry.type(
    description="Seconds of the window and how they split. uptimePercent = (window - (outage - "
    "excluded)) / window x 100 (23 CFR 680.116(b)): outage inside maintenance windows and "
    "excluded outages is forgiven."
)
class UptimeBreakdown:
    uptime_percent: float
    excluded_removed_percent: float = strawberry.field(
        description="upSeconds / (window - excluded) x 100: excluded time taken out of the "
        "denominator instead of forgiven; lower than uptimePercent whenever anything is excluded."
    )
    window_seconds: float
    up_seconds: float
    outage_seconds: float
    excluded_seconds: float = strawberry.field(description="Outage forgiven by exclusions.")
    offline_seconds: float = strawberry.field(description="Station disconnected or silent.")
    faulted_seconds: float = strawberry.field(description="Online but not usable.")
    unknown_seconds: float = strawberry.field(description="Online but no status reported.")

    @classmethod
    def from_domain(cls, b: Breakdown) -> "UptimeBreakdown":
        return cls(
            uptime_percent=b.uptime_percent,
            excluded_removed_percent=b.excluded_removed_percent,
            window_seconds=b.window_s,
            up_seconds=b.up_s,
            outage_seconds=b.outage_s,
            excluded_seconds=b.excluded_s,
            offline_seconds=b.offline_s,
            faulted_seconds=b.faulted_s,
            unknown_seconds=b.unknown_s,
        )


@strawberry.type(description="One EVSE's (port's) uptime.")
class EvseUptime:
    evse_uid: str
    station_identity: str
    uptime: UptimeBreakdown

    @classmethod
    def from_service(cls, row: service.EvseUptime) -> "EvseUptime":
        return cls(
            evse_uid=row.evse_uid,
            station_identity=row.station_id,
            uptime=UptimeBreakdown.from_domain(row.breakdown),
        )


@strawberry.type(description="Uptime over [from, to): the total weighs every EVSE equally.")
class UptimeReport:
    from_: datetime = strawberry.field(name="from")
    to: datetime
    total: UptimeBreakdown
    evses: list[EvseUptime]

    @classmethod
    def from_service(cls, report: service.UptimeReport) -> "UptimeReport":
        return cls(
            from_=report.start,
            to=report.end,
            total=UptimeBreakdown.from_domain(report.total),
            evses=[EvseUptime.from_service(row) for row in report.evses],
        )


strawberry.enum(ExclusionKind, description="Scheduled maintenance or an excluded outage.")
strawberry.enum(OutageCause, description="Why an outage was outside the operator's control.")


@strawberry.type(
    description="Time excluded from uptime: scheduled maintenance or an operator-flagged outage "
    "outside the operator's control; covers one EVSE or, with evseId null, the whole station."
)
class MaintenanceWindow:
    id: strawberry.ID
    station_identity: str
    evse_id: strawberry.ID | None
    kind: ExclusionKind
    cause: OutageCause | None
    reason: str
    from_: datetime = strawberry.field(name="from")
    to: datetime
    created_by: str | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: models.MaintenanceWindow) -> "MaintenanceWindow":
        assert row.id is not None
        return cls(
            id=strawberry.ID(str(node.global_id(MAINTENANCE_WINDOW, row.id))),
            station_identity=row.station_id,
            evse_id=(
                strawberry.ID(str(node.global_id(node.EVSE, row.evse_id)))
                if row.evse_id is not None
                else None
            ),
            kind=row.kind,
            cause=OutageCause(row.cause) if row.cause else None,
            reason=row.reason,
            from_=row.starts_at,
            to=row.ends_at,
            created_by=row.created_by,
            created_at=row.created_at,
        )


@strawberry.type(description="The window or exclusion as stored (or as it was, once removed).")
class MaintenanceWindowPayload:
    window: MaintenanceWindow


@strawberry.type(description="No such station, EVSE, window or exclusion in your network.")
class MaintenanceNotFound:
    message: str


@strawberry.type(description="The span or the cause was refused; the message names the value.")
class InvalidMaintenance:
    message: str
