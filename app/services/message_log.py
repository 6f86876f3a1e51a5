"""The OCPP message log: store batches of frames, purge old ones."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from app.db.engine import SessionFactory
from app.db.models import ChargingStation, OcppMessageLog
from app.db.types import UtcDateTime
from app.domain.enums import MessageDirection, MessageKind


@dataclass(frozen=True, slots=True)
class LoggedFrame:
    """One frame as it went over the wire (`payload` is the raw text)."""

    station_id: str
    direction: MessageDirection
    kind: MessageKind
    payload: str
    unique_id: str | None = None
    action: str | None = None
    error_code: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))


def _clip(value: str | None, length: int) -> str | None:
    return value[:length] if value is not None else None


def _last_inbound(frames: Sequence[LoggedFrame]) -> list[dict[str, object]]:
    """The newest inbound frame's time per station in `frames`."""
    latest: dict[str, datetime] = {}
    for frame in frames:
        if frame.direction == MessageDirection.INBOUND:
            seen = latest.get(frame.station_id)
            if seen is None or frame.at > seen:
                latest[frame.station_id] = frame.at
    # In id order, so two writers (instances) lock the rows in one order on PostgreSQL.
    return [{"sid": station_id, "at": latest[station_id]} for station_id in sorted(latest)]


# Never moves backwards (batches of two instances may commit out of order).
# A Core statement on the table (not the ORM entity), so a list of params is one executemany.
_STATION = ChargingStation.__table__  # type: ignore[attr-defined]
_TOUCH = (
    sa.update(_STATION)
    .where(
        _STATION.c.id == sa.bindparam("sid"),
        sa.or_(
            _STATION.c.last_message_at.is_(None),
            _STATION.c.last_message_at < sa.bindparam("at", type_=UtcDateTime()),
        ),
    )
    .values(last_message_at=sa.bindparam("at", type_=UtcDateTime()))
)


async def write_frames(*, session_factory: SessionFactory, frames: Sequence[LoggedFrame]) -> None:
    """Insert `frames` in one transaction (one multi-row INSERT), and move each sending
    station's `last_message_at` to its newest inbound frame (one UPDATE per station)."""
    if not frames:
        return
    async with session_factory() as db:
        await write_frames_on(await db.connection(), frames)
        await db.commit()


async def write_frames_on(conn: AsyncConnection, frames: Sequence[LoggedFrame]) -> None:
    """`write_frames` on a connection the caller holds (and commits): a writer with a
    backlog keeps one connection instead of queueing at the pool again for every batch."""
    if not frames:
        return
    rows = [
        {
            "station_id": frame.station_id[:48],
            "direction": frame.direction,
            "kind": frame.kind,
            "unique_id": _clip(frame.unique_id, 64),
            "action": _clip(frame.action, 64),
            # PostgreSQL text cannot hold NUL; a frame is stored for diagnosis, not replay.
            "payload": frame.payload.replace("\x00", "\\u0000"),
            "error_code": _clip(frame.error_code, 40),
            "created_at": frame.at,
        }
        for frame in frames
    ]
    await conn.execute(sa.insert(OcppMessageLog), rows)
    touched = _last_inbound(frames)
    if touched:
        await conn.execute(_TOUCH, touched)


async def purge_frames(*, session_factory: SessionFactory, older_than: datetime) -> int:
    """Delete frames logged before `older_than`; returns how many."""
    async with session_factory() as db:
        result = await db.exec(
            sa.delete(OcppMessageLog).where(col(OcppMessageLog.created_at) < older_than)
        )
        await db.commit()
        return int(result.rowcount)
