"""Charge detail records: the priced, final account of a finished session (a receipt)."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db.models import base as _base  # noqa: F401  (naming convention first)
from app.db.types import utc_column, utcnow


class Cdr(SQLModel, table=True):
    """OCPI-style CDR, written once in the transaction that ends the session."""

    __tablename__ = "cdr"

    id: int | None = Field(default=None, primary_key=True)
    session_id: int = Field(foreign_key="charging_session.id", unique=True)
    driver_id: int | None = Field(default=None, foreign_key="driver.id", index=True)
    location_id: int | None = Field(default=None, foreign_key="location.id")
    station_id: str = Field(max_length=48)
    evse_uid: str = Field(max_length=64)
    id_token: str | None = Field(default=None, max_length=36)
    started_at: datetime = Field(sa_column=utc_column(nullable=False))
    ended_at: datetime = Field(sa_column=utc_column(nullable=False))
    energy_wh: int = Field(ge=0)
    charging_time_s: int = Field(ge=0)
    idle_time_s: int = Field(ge=0)
    currency: str = Field(max_length=3)
    total_excl_vat_minor: int
    total_vat_minor: int
    total_incl_vat_minor: int
    cost_breakdown: dict[str, Any] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    tariff: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(sa.JSON))
    charging_periods: list[dict[str, Any]] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    stop_reason: str | None = Field(default=None, max_length=32)
    receipt_token: str | None = Field(default=None, max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
