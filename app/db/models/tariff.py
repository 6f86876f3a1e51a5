"""Tariffs (OCPI 2.2.1 shape) that connectors point at."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db.models import base as _base  # noqa: F401  (naming convention first)
from app.db.types import utc_column, utcnow


class Tariff(SQLModel, table=True):
    """A tariff. `elements` holds the OCPI `elements` list (price components + restrictions)
    as JSON; `app.domain.tariffs` parses it. Changes create a new row: sessions and CDRs keep
    the tariff they were priced with."""

    __tablename__ = "tariff"

    id: int | None = Field(default=None, primary_key=True)
    operator_id: int | None = Field(default=None, foreign_key="operator.id", index=True)
    name: str = Field(default="", max_length=100)
    currency: str = Field(max_length=3)
    elements: list[dict[str, Any]] = Field(sa_column=sa.Column(sa.JSON, nullable=False))
    min_price: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(sa.JSON))
    max_price: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(sa.JSON))
    vat_percent: str | None = Field(default=None, max_length=8, description="decimal as text")
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
