"""Partner API keys: scoped, hashed at rest, shown once, revocable."""

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db.models import base as _base  # noqa: F401  (naming convention first)
from app.db.types import utc_column, utcnow


class ApiKey(SQLModel, table=True):
    """A partner's key `ck_<prefix>_<secret>`. Only `prefix` (to find and show it) and the
    SHA-256 of the whole key are stored: the secret is 32 random bytes, so a fast hash is
    enough (nothing to brute-force) and verification stays cheap on every request."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    prefix: str = Field(max_length=16, unique=True)
    key_hash: str = Field(max_length=64)
    name: str = Field(max_length=100)
    partner: str = Field(max_length=100, index=True)
    operator_id: int | None = Field(
        default=None, foreign_key="operator.id", index=True, description="the org that owns it"
    )
    scopes: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    created_by: str = Field(default="", max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    last_used_at: datetime | None = Field(default=None, sa_column=utc_column())
    revoked_at: datetime | None = Field(default=None, sa_column=utc_column())
