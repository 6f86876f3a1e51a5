"""Drivers (app accounts), their refresh tokens and favourite locations."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.db.models import base as _base  # noqa: F401  (naming convention first)
from app.db.types import utc_column, utcnow


class Driver(SQLModel, table=True):
    """A driver account. `email` is stored lower-cased; the password as an argon2 hash."""

    __tablename__ = "driver"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    password_hash: str = Field(max_length=255)
    name: str = Field(default="", max_length=100)
    disabled: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class RefreshToken(SQLModel, table=True):
    """A long-lived refresh token, stored as a SHA-256 digest, rotated on every use.

    Tokens of one login share a `family_id`; presenting a token that was already rotated
    (a stolen copy) revokes the whole family.
    """

    __tablename__ = "refresh_token"

    id: int | None = Field(default=None, primary_key=True)
    driver_id: int = Field(foreign_key="driver.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    family_id: str = Field(max_length=32, index=True)
    expires_at: datetime = Field(sa_column=utc_column(nullable=False))
    rotated_at: datetime | None = Field(default=None, sa_column=utc_column())
    revoked_at: datetime | None = Field(default=None, sa_column=utc_column())
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class Favorite(SQLModel, table=True):
    __tablename__ = "favorite"

    driver_id: int = Field(foreign_key="driver.id", primary_key=True)
    location_id: int = Field(foreign_key="location.id", primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
