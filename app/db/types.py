"""Column types shared by the tables: UTC-aware datetimes and portable enums."""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite drops the zone)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: chargenet stores UTC-aware datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utc_column(*, nullable: bool = True, index: bool = False, **kw: Any) -> Any:
    """A `sa_column` for a UTC-aware datetime field."""
    return sa.Column(UtcDateTime(), nullable=nullable, index=index, **kw)


def enum_column(
    enum: type[StrEnum], *, nullable: bool = False, index: bool = False, **kw: Any
) -> Any:
    """A `sa_column` storing a StrEnum's values as VARCHAR (no native PostgreSQL enum type)."""
    return sa.Column(
        sa.Enum(
            enum,
            native_enum=False,
            create_constraint=False,
            length=max(len(m.value) for m in enum) + 8,
            values_callable=lambda e: [m.value for m in e],
            validate_strings=True,
        ),
        nullable=nullable,
        index=index,
        **kw,
    )
