"""Diagnostics for people: a station's live state, last sessions and OCPP log for its operator."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, select

from app.db.engine import SessionFactory
from app.db.models import ChargingSession, ChargingStation, OcppMessageLog
from app.domain.errors import InvalidInput, NotFound
from app.services.alerts import OperatorScope, scoped
from app.services.station_live import StationLive, read_live

MAX_PAGE = 200
MAX_SESSIONS = 100


@dataclass(frozen=True, slots=True)
class MessagePage:
    messages: Sequence[OcppMessageLog]
    has_next_page: bool


def _in_scope(station_id: str, scope: OperatorScope) -> Any:
    return scoped(
        select(ChargingStation.id).where(ChargingStation.id == station_id),
        scope,
        ChargingStation.id,
    )


async def station_live(
    *, session_factory: SessionFactory, scope: OperatorScope, station_id: str
) -> StationLive:
    """The live state of a station of `scope` (five statements, whatever its size)."""
    async with session_factory() as db:
        if (await db.exec(_in_scope(station_id, scope))).first() is None:
            raise NotFound("ChargingStation", station_id)
        [live] = await read_live(db, [station_id])
    return live


async def recent_sessions(
    *, session_factory: SessionFactory, station_id: str, first: int
) -> Sequence[ChargingSession]:
    """The station's last `first` sessions, newest start first (the caller checked the scope)."""
    if not 1 <= first <= MAX_SESSIONS:
        raise InvalidInput(f"first must be from 1 to {MAX_SESSIONS}, got {first}")
    async with session_factory() as db:
        return (
            await db.exec(
                select(ChargingSession)
                .where(ChargingSession.station_id == station_id)
                .order_by(col(ChargingSession.started_at).desc(), col(ChargingSession.id).desc())
                .limit(first)
            )
        ).all()


async def station_messages(
    *,
    session_factory: SessionFactory,
    scope: OperatorScope,
    station_id: str,
    first: int,
    before_id: int | None = None,
    action: str | None = None,
) -> MessagePage:
    """Up to `first` logged frames of a station of `scope`, newest first, older than message
    `before_id` when given (the cursor), of one OCPP `action` when given."""
    if not 1 <= first <= MAX_PAGE:
        raise InvalidInput(f"first must be from 1 to {MAX_PAGE}, got {first}")
    async with session_factory() as db:
        if (await db.exec(_in_scope(station_id, scope))).first() is None:
            raise NotFound("ChargingStation", station_id)
        statement = select(OcppMessageLog).where(OcppMessageLog.station_id == station_id)
        if before_id is not None:
            statement = statement.where(col(OcppMessageLog.id) < before_id)
        if action is not None:
            statement = statement.where(OcppMessageLog.action == action)
        # Ids grow with insertion, so id order is arrival order and a stable cursor.
        rows = list(
            (
                await db.exec(statement.order_by(col(OcppMessageLog.id).desc()).limit(first + 1))
            ).all()
        )
    return MessagePage(rows[:first], len(rows) > first)
