"""Diagnostics for people: a station's recent OCPP messages, newest first, for its operator."""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import col, select

from app.db.engine import SessionFactory
from app.db.models import ChargingStation, OcppMessageLog
from app.domain.errors import InvalidInput, NotFound
from app.services.alerts import OperatorScope, scoped

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class MessagePage:
    messages: Sequence[OcppMessageLog]
    has_next_page: bool


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
        station = (
            await db.exec(
                scoped(
                    select(ChargingStation.id).where(ChargingStation.id == station_id),
                    scope,
                    ChargingStation.id,
                )
            )
        ).first()
        if station is None:
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
