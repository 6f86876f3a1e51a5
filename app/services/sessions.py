"""A driver's charging sessions as the API shows them: one, or the active ones.

Another driver's session is NotFound, exactly like a missing one, so ids leak nothing.
"""

from sqlmodel import col, select

from app.db.engine import SessionFactory
from app.db.models import ChargingSession
from app.domain.enums import SessionStatus
from app.domain.errors import NotFound


async def get_own_session(
    *, session_factory: SessionFactory, driver_id: int, session_id: int
) -> ChargingSession:
    """The session as stored now (a fresh read: callers re-read on every update event)."""
    async with session_factory() as db:
        session = await db.get(ChargingSession, session_id)
    if session is None or session.driver_id != driver_id:
        raise NotFound("ChargingSession", session_id)
    return session


async def list_active_sessions(
    *, session_factory: SessionFactory, driver_id: int
) -> list[ChargingSession]:
    """The driver's ACTIVE sessions, oldest first (what an app shows on reconnect)."""
    async with session_factory() as db:
        rows = await db.exec(
            select(ChargingSession)
            .where(
                ChargingSession.driver_id == driver_id,
                ChargingSession.status == SessionStatus.ACTIVE,
            )
            .order_by(col(ChargingSession.started_at), col(ChargingSession.id))
        )
        return list(rows.all())
