"""A session's running totals as a plain row, read and written with Core statements.

MeterValues is most of what chargers send (40 of the ~45 messages of a session), and each one
changes a handful of a session's columns. Loading the session as an ORM object and letting the
unit of work find and write its changes costs several times the two statements themselves, so
that path reads the columns it needs into a `LiveSession` and writes them back with one UPDATE.
The ORM object stays the path for everything else (start, stop, a session without a tariff yet).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.models import ChargingSession
from app.domain.enums import SessionStatus

_TABLE: Any = ChargingSession.__table__  # type: ignore[attr-defined]


@dataclass(slots=True)
class LiveSession:
    """The columns of a charging session that meter values read, change and publish."""

    id: int
    station_id: str
    evse_id: int
    status: SessionStatus
    started_at: datetime
    ended_at: datetime | None
    meter_start_wh: int
    energy_wh: int
    power_w: int | None
    soc_percent: int | None
    last_meter_at: datetime | None
    tariff_id: int | None
    currency: str | None
    cost_incl_vat_minor: int | None


_COLUMNS = tuple(_TABLE.c[name] for name in LiveSession.__dataclass_fields__)
_WRITTEN = (
    "meter_start_wh",
    "energy_wh",
    "last_meter_at",
    "power_w",
    "soc_percent",
    "currency",
    "cost_incl_vat_minor",
)
# Built once (every meter value runs them): only the parameters change.
_SELECT = sa.select(*_COLUMNS).where(
    _TABLE.c.station_id == sa.bindparam("station_id"),
    _TABLE.c.transaction_id == sa.bindparam("transaction_id"),
)
_UPDATE = (
    sa.update(_TABLE)
    .where(_TABLE.c.id == sa.bindparam("session_pk"))
    .values({name: sa.bindparam(f"new_{name}", type_=_TABLE.c[name].type) for name in _WRITTEN})
    .values(updated_at=sa.bindparam("new_updated_at", type_=_TABLE.c.updated_at.type))
)


async def find(db: AsyncSession, *, station_id: str, transaction_id: str) -> LiveSession | None:
    """The station's session with this transactionId, as a row; None when there is none, or
    when this transaction already holds it as an ORM object (whose state a Core UPDATE would
    leave stale: the caller then uses that object)."""
    connection = await db.connection()
    params = {"station_id": station_id, "transaction_id": transaction_id}
    row = (await connection.execute(_SELECT, params)).first()
    if row is None or db.identity_key(ChargingSession, row[0]) in db.identity_map:
        return None
    return LiveSession(*row)


async def write(db: AsyncSession, session: LiveSession, *, updated_at: datetime) -> None:
    """One UPDATE of the columns meter values change (same transaction, not committed)."""
    params = {f"new_{name}": getattr(session, name) for name in _WRITTEN}
    params["new_updated_at"] = updated_at
    params["session_pk"] = session.id
    await (await db.connection()).execute(_UPDATE, params)
