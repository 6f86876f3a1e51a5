"""Serviceability tables: EVSE status and station connectivity history, boots, alerts,
maintenance windows and excluded outages."""

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db.models import base as _base  # noqa: F401  (naming convention first)
from app.db.types import enum_column, utc_column, utcnow
from app.domain.alerts import AlertSeverity, AlertSource, AlertState
from app.domain.enums import EvseStatus
from app.domain.uptime import ExclusionKind


class EvseStatusInterval(SQLModel, table=True):
    """One status of one EVSE from `started_at` until `ended_at` (None: still current)."""

    __tablename__ = "evse_status_interval"
    __table_args__ = (sa.Index("ix_evse_status_interval_evse_time", "evse_id", "started_at"),)

    id: int | None = Field(default=None, primary_key=True)
    evse_id: int = Field(foreign_key="evse.id")
    station_id: str = Field(max_length=48, index=True)
    status: EvseStatus = Field(sa_column=enum_column(EvseStatus))
    error_code: str | None = Field(default=None, max_length=50)
    started_at: datetime = Field(sa_column=utc_column(nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=utc_column())


class StationConnectivityInterval(SQLModel, table=True):
    """A station online or offline from `started_at` until `ended_at` (None: still so)."""

    __tablename__ = "station_connectivity_interval"
    __table_args__ = (
        sa.Index("ix_station_connectivity_interval_station_time", "station_id", "started_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    station_id: str = Field(foreign_key="charging_station.id", max_length=48)
    online: bool
    reason: str = Field(max_length=32, description="CONNECTED, DISCONNECTED, HEARTBEAT_TIMEOUT…")
    started_at: datetime = Field(sa_column=utc_column(nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=utc_column())


class StationBoot(SQLModel, table=True):
    """One BootNotification: boot loops are many of these in a short time."""

    __tablename__ = "station_boot"
    __table_args__ = (sa.Index("ix_station_boot_station_time", "station_id", "booted_at"),)

    id: int | None = Field(default=None, primary_key=True)
    station_id: str = Field(foreign_key="charging_station.id", max_length=48)
    booted_at: datetime = Field(sa_column=utc_column(nullable=False))


class Alert(SQLModel, table=True):
    """A fault an operator should see, deduplicated while it is not resolved.

    `open_key` is `station|evse|code` while the alert is open or acknowledged and NULL once
    resolved: the unique index keeps one live alert per condition (NULLs never collide).
    """

    __tablename__ = "alert"

    id: int | None = Field(default=None, primary_key=True)
    station_id: str = Field(foreign_key="charging_station.id", max_length=48, index=True)
    evse_id: int | None = Field(default=None, foreign_key="evse.id", index=True)
    code: str = Field(max_length=100, index=True)
    severity: AlertSeverity = Field(sa_column=enum_column(AlertSeverity, index=True))
    state: AlertState = Field(
        default=AlertState.OPEN, sa_column=enum_column(AlertState, index=True)
    )
    source: AlertSource = Field(sa_column=enum_column(AlertSource))
    open_key: str | None = Field(default=None, max_length=200, unique=True)
    vendor_error_code: str | None = Field(default=None, max_length=100)
    info: str | None = Field(default=None, max_length=500)
    first_seen_at: datetime = Field(sa_column=utc_column(nullable=False))
    last_seen_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    count: int = Field(default=1, ge=1)
    acknowledged_at: datetime | None = Field(default=None, sa_column=utc_column())
    acknowledged_by: str | None = Field(default=None, max_length=100)
    resolved_at: datetime | None = Field(default=None, sa_column=utc_column())
    resolved_by: str | None = Field(default=None, max_length=100, description="None: automatic")
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class MaintenanceWindow(SQLModel, table=True):
    """Time excluded from uptime: scheduled maintenance or an operator-flagged outage.

    Covers one EVSE (`evse_id`) or a whole station (`evse_id` None).
    """

    __tablename__ = "maintenance_window"

    id: int | None = Field(default=None, primary_key=True)
    station_id: str = Field(foreign_key="charging_station.id", max_length=48, index=True)
    evse_id: int | None = Field(default=None, foreign_key="evse.id", index=True)
    kind: ExclusionKind = Field(sa_column=enum_column(ExclusionKind))
    reason: str = Field(default="", max_length=255)
    cause: str | None = Field(default=None, max_length=32)  # OutageCause of an excluded outage
    starts_at: datetime = Field(sa_column=utc_column(nullable=False))
    ends_at: datetime = Field(sa_column=utc_column(nullable=False))
    created_by: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
