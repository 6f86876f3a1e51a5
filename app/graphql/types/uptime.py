"""Uptime reports: the NEVI percentage and where the time went, per EVSE and in total."""

from datetime import datetime

import strawberry

from app.domain.uptime import UptimeBreakdown as Breakdown
from app.services import uptime as service


@strawberry.type(
    description="Seconds of the window and how they split. uptimePercent = (window - (outage - "
    "excluded)) / window x 100 (23 CFR 680.116(b)): outage inside maintenance windows and "
    "excluded outages is forgiven."
)
class UptimeBreakdown:
    uptime_percent: float
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
