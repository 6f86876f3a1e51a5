"""Remote commands sent on a driver's or operator's behalf, and their outcomes."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db.models import base as _base  # noqa: F401  (naming convention first)
from app.db.types import utc_column, utcnow


class RemoteCommand(SQLModel, table=True):
    """One command (START, STOP, ...). Its id is returned at once; the outcome comes later.

    (driver_id, client_mutation_id) is unique: a retried mutation finds its first command
    instead of starting a second session. `remote_start_id` links a START to the transaction
    the charger then opens (2.0.1 remoteStartId; 1.6 by EVSE and token).
    """

    __tablename__ = "remote_command"
    __table_args__ = (sa.UniqueConstraint("driver_id", "client_mutation_id"),)

    id: str = Field(primary_key=True, max_length=36)
    kind: str = Field(max_length=24)
    status: str = Field(default="PENDING", max_length=24, index=True)
    driver_id: int | None = Field(default=None, foreign_key="driver.id", index=True)
    client_mutation_id: str | None = Field(default=None, max_length=64)
    station_id: str = Field(foreign_key="charging_station.id", max_length=48, index=True)
    evse_id: int | None = Field(default=None, foreign_key="evse.id")
    session_id: int | None = Field(default=None, foreign_key="charging_session.id")
    remote_start_id: int | None = Field(default=None, unique=True)
    detail: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(sa.JSON))
    # Long-running operations (reset, firmware, diagnostics): the station's latest progress
    # report while the command is ACCEPTED_PENDING, e.g. Downloading, Installing, Rebooting.
    progress: str | None = Field(default=None, max_length=40)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    completed_at: datetime | None = Field(default=None, sa_column=utc_column())
