"""Every OCPP frame in and out, for diagnostics (kept for a retention period)."""

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db.models import base as _base  # noqa: F401  (naming convention first)
from app.db.types import enum_column, utc_column, utcnow
from app.domain.enums import MessageDirection, MessageKind


class OcppMessageLog(SQLModel, table=True):
    __tablename__ = "ocpp_message_log"
    __table_args__ = (
        sa.Index("ix_ocpp_message_log_station_time", "station_id", "created_at"),
        # A station's page newest first by id (stationMessages, stationDiagnostics) reads the
        # index instead of sorting all the station's frames.
        sa.Index("ix_ocpp_message_log_station_id", "station_id", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    station_id: str = Field(max_length=48)
    direction: MessageDirection = Field(sa_column=enum_column(MessageDirection))
    kind: MessageKind = Field(sa_column=enum_column(MessageKind))
    unique_id: str | None = Field(default=None, max_length=64)
    action: str | None = Field(default=None, max_length=64)
    payload: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    error_code: str | None = Field(default=None, max_length=40)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=utc_column(nullable=False, index=True)
    )
