"""Operator users: people of an operator organisation who log in with a role."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.db.models import base as _base  # noqa: F401  (naming convention first)
from app.db.types import enum_column, utc_column, utcnow
from app.domain.access import OperatorRole


class OperatorUser(SQLModel, table=True):
    """A member of an operator organisation. `email` lower-cased; password as argon2 hash."""

    __tablename__ = "operator_user"

    id: int | None = Field(default=None, primary_key=True)
    operator_id: int = Field(foreign_key="operator.id", index=True)
    email: str = Field(max_length=254, unique=True)
    password_hash: str = Field(max_length=255)
    role: OperatorRole = Field(sa_column=enum_column(OperatorRole))
    disabled: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
