"""The audit log: who did what to which target, when, and how it ended."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db.models import base as _base  # noqa: F401  (naming convention first)
from app.db.types import utc_column, utcnow


class AuditRecord(SQLModel, table=True):
    """One operator or partner action. Append-only: rows are never updated or deleted.

    `actor` names the caller (`operator-user:7`, `api-key:3`, `driver:12`, `cli`);
    `operator_id` is the organisation whose admins may read the row (None: network-wide).
    """

    __tablename__ = "audit_record"
    __table_args__ = (sa.Index("ix_audit_record_operator_at", "operator_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    actor: str = Field(max_length=100, index=True)
    operator_id: int | None = Field(default=None, foreign_key="operator.id")
    action: str = Field(max_length=100, index=True)
    target: str = Field(default="", max_length=255)
    result: str = Field(max_length=50, description="OK, or why it failed (FORBIDDEN, REJECTED…)")
    detail: dict[str, Any] | None = Field(default=None, sa_column=sa.Column(sa.JSON, nullable=True))
