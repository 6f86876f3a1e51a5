"""A driver's charging history and receipts: their own sessions only, newest first."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_
from sqlmodel import col, select

from app.db.engine import SessionFactory
from app.db.models import Cdr, ChargingSession
from app.domain.errors import InvalidInput, NotFound


@dataclass(frozen=True, slots=True)
class SessionPage:
    sessions: list[tuple[ChargingSession, Cdr | None]]
    has_next_page: bool


def session_cursor(session: ChargingSession) -> str:
    """The keyset position of a session in history: its start time, then its id."""
    return f"{session.started_at.isoformat()}|{session.id}"


def _parse_cursor(cursor: str) -> tuple[datetime, int]:
    started, _, key = cursor.partition("|")
    try:
        return datetime.fromisoformat(started), int(key)
    except ValueError:
        raise InvalidInput(f"after {cursor!r} is not a cursor of `sessions`") from None


async def list_driver_sessions(
    *, session_factory: SessionFactory, driver_id: int, first: int, after: str | None = None
) -> SessionPage:
    """The driver's sessions, newest start first, with their CDR when finished."""
    statement = (
        select(ChargingSession, Cdr)
        .join(Cdr, col(Cdr.session_id) == ChargingSession.id, isouter=True)
        .where(ChargingSession.driver_id == driver_id)
        .order_by(col(ChargingSession.started_at).desc(), col(ChargingSession.id).desc())
        .limit(first + 1)
    )
    if after is not None:
        started, key = _parse_cursor(after)
        statement = statement.where(
            or_(
                col(ChargingSession.started_at) < started,
                and_(col(ChargingSession.started_at) == started, col(ChargingSession.id) < key),
            )
        )
    async with session_factory() as db:
        rows = list((await db.exec(statement)).all())
    return SessionPage([(s, c) for s, c in rows[:first]], len(rows) > first)


async def get_receipt(*, session_factory: SessionFactory, driver_id: int, session_id: int) -> Cdr:
    """The CDR of the driver's own finished session; NotFound for anyone else's, or none yet."""
    async with session_factory() as db:
        cdr = (
            await db.exec(
                select(Cdr)
                .join(ChargingSession, col(ChargingSession.id) == Cdr.session_id)
                .where(Cdr.session_id == session_id, ChargingSession.driver_id == driver_id)
            )
        ).first()
    if cdr is None:
        raise NotFound("receipt of session", session_id)
    return cdr


async def cdrs_by_session(*, session_factory: SessionFactory, session_ids: list[int]) -> list[Cdr]:
    async with session_factory() as db:
        statement = select(Cdr).where(col(Cdr.session_id).in_(session_ids))
        return list((await db.exec(statement)).all())
