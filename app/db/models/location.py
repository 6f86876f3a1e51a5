"""Operators and the locations (sites) where their charging stations stand."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db.models import base as _base  # noqa: F401  (naming convention first)
from app.db.types import utc_column, utcnow


class Operator(SQLModel, table=True):
    """A charge point operator (CPO): owns locations; OCPI country code + party id."""

    __tablename__ = "operator"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=255)
    country_code: str = Field(default="NL", max_length=2)
    party_id: str = Field(default="CNT", max_length=3)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class Location(SQLModel, table=True):
    """OCPI Location: a place with one or more stations, with coordinates and opening hours."""

    __tablename__ = "location"
    __table_args__ = (sa.Index("ix_location_lat_lng", "latitude", "longitude"),)

    id: int | None = Field(default=None, primary_key=True)
    operator_id: int | None = Field(default=None, foreign_key="operator.id", index=True)
    name: str = Field(max_length=255)
    address: str = Field(default="", max_length=255)
    city: str = Field(default="", max_length=100)
    postal_code: str = Field(default="", max_length=16)
    country: str = Field(default="NLD", max_length=3, description="ISO 3166-1 alpha-3")
    latitude: float
    longitude: float
    time_zone: str = Field(
        default="UTC", max_length=64, description="IANA zone, e.g. Europe/Amsterdam"
    )
    opening_hours: dict[str, Any] | None = Field(
        default=None,
        sa_column=sa.Column(sa.JSON, nullable=True),
        description="OCPI Hours: {'twentyfourseven': true} or {'regular_hours': [...]}",
    )
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
