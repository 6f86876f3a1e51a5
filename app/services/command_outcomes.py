"""Remote command outcomes: send in the background, then track until a final status.

A START is ACCEPTED only once the charger opened the transaction (2.0.1 TransactionEvent with
its remoteStartId; 1.6 StartTransaction on that EVSE with the driver's app token), which
`link_started_session` notices inside the transaction service's unit of work. A STOP is
ACCEPTED once the session is COMPLETED. Every status change is a conditional UPDATE from a live
status, so the sender, the link and the timeout never overwrite each other's final word; each
is published on `commands.command_topic(id)`.

A charger that starts after its command timed out gets its token refused in the answer to that
start (1.6 idTagInfo, 2.0.1 idTokenInfo: Invalid), so it stops the transaction itself
(StopTransactionOnInvalidId); the session is not attributed to the driver, and the command's
detail names it as `late_session_id`.
"""

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import EllipsisType
from typing import Any

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.engine import SessionFactory
from app.db.models import ChargingSession, IdToken, RemoteCommand
from app.domain.commands import CommandStatus, RequestStart, RequestStop
from app.domain.enums import SessionStatus
from app.domain.errors import StationNotConnected
from app.domain.id_tokens import canonical_uid
from app.events import EventBus, topics
from app.services.commands import (
    LIVE,
    CommandKind,
    RemoteCommandStatus,
    command_event,
    command_topic,
)
from app.services.ports import StationCommander

LATE_START_WINDOW = timedelta(minutes=15)  # a 1.6 start this long after a TIMEOUT is unrelated


@dataclass(frozen=True, slots=True)
class StartLink:
    """A started session matched to a START command; `late` if that command had timed out."""

    command_id: str
    late: bool


async def _transition(
    session_factory: SessionFactory,
    bus: EventBus,
    command_id: str,
    status: RemoteCommandStatus,
    *,
    source: frozenset[RemoteCommandStatus] = LIVE,
    detail: dict[str, Any] | None = None,
) -> RemoteCommand:
    """Move the command to `status` if it is still in `source`; the row as it now is."""
    final = status not in LIVE
    async with session_factory() as db:
        current = await db.get(RemoteCommand, command_id)
        assert current is not None
        values: dict[str, Any] = {"status": status}
        if final:
            values["completed_at"] = datetime.now(UTC)
        if detail:
            values["detail"] = {**(current.detail or {}), **detail}
        result = await db.exec(
            update(RemoteCommand)
            .where(col(RemoteCommand.id) == command_id)
            .where(col(RemoteCommand.status).in_([s.value for s in source]))
            .values(**values)
        )
        await db.commit()
        changed = result.rowcount == 1
        await db.refresh(current)
    if changed:
        await bus.publish(command_topic(command_id), command_event(current))
    return current


def _refusal(outcome_status: CommandStatus) -> RemoteCommandStatus:
    return {
        CommandStatus.REJECTED: RemoteCommandStatus.REJECTED,
        CommandStatus.TIMEOUT: RemoteCommandStatus.TIMEOUT,
    }.get(outcome_status, RemoteCommandStatus.FAILED)


async def _await_final(
    session_factory: SessionFactory, events: Any, command_id: str, window_s: float, done: Any
) -> RemoteCommand | None:
    """Re-read on every event until `done(db, command)` holds or the window passes (None)."""
    try:
        async with asyncio.timeout(window_s):
            while True:
                async with session_factory() as db:
                    command = await db.get(RemoteCommand, command_id)
                    assert command is not None
                    if await done(db, command):
                        return command
                await events.get()
    except TimeoutError:
        return None


async def run_start(
    *,
    session_factory: SessionFactory,
    bus: EventBus,
    commander: StationCommander,
    command_id: str,
    start_window_s: float,
    answer_timeout_s: float | None = None,
) -> RemoteCommand:
    """Send a PENDING START and track it to a final status (see the module docstring)."""
    async with session_factory() as db:
        command = await db.get(RemoteCommand, command_id)
    assert command is not None
    assert command.remote_start_id is not None
    assert command.detail is not None
    request = RequestStart(
        ocpp_evse_id=int(command.detail["ocpp_evse_id"]),
        id_token=str(command.detail["id_token"]),
        remote_start_id=command.remote_start_id,
    )
    # Subscribe before sending: the charger may start the transaction before we see its answer.
    async with bus.subscribe(command_topic(command_id)) as events:
        try:
            outcome = await commander.send(command.station_id, request, timeout_s=answer_timeout_s)
        except StationNotConnected as exc:
            return await _transition(
                session_factory, bus, command_id, RemoteCommandStatus.EVSE_INOPERATIVE,
                detail={"reason": str(exc)},
            )  # fmt: skip
        if outcome.status == CommandStatus.REJECTED and await _evse_busy(session_factory, command):
            return await _transition(
                session_factory, bus, command_id, RemoteCommandStatus.EVSE_OCCUPIED,
                detail={"answer": outcome.detail},
            )  # fmt: skip
        if outcome.status != CommandStatus.ACCEPTED:
            return await _transition(
                session_factory, bus, command_id, _refusal(outcome.status),
                detail={"answer": outcome.detail},
            )  # fmt: skip
        await _transition(
            session_factory, bus, command_id, RemoteCommandStatus.ACCEPTED_PENDING,
            source=frozenset({RemoteCommandStatus.PENDING}),
        )  # fmt: skip

        async def linked(_: AsyncSession, row: RemoteCommand) -> bool:
            return row.status not in LIVE

        final = await _await_final(session_factory, events, command_id, start_window_s, linked)
    if final is not None:
        return final
    return await _transition(
        session_factory, bus, command_id, RemoteCommandStatus.TIMEOUT,
        detail={"reason": f"the charger accepted but started no transaction in {start_window_s}s"},
    )  # fmt: skip


async def _evse_busy(session_factory: SessionFactory, command: RemoteCommand) -> bool:
    async with session_factory() as db:
        found = await db.exec(
            select(ChargingSession.id).where(
                ChargingSession.evse_id == command.evse_id,
                ChargingSession.status == SessionStatus.ACTIVE,
            )
        )
        return found.first() is not None


async def run_stop(
    *,
    session_factory: SessionFactory,
    bus: EventBus,
    commander: StationCommander,
    command_id: str,
    stop_window_s: float,
    answer_timeout_s: float | None = None,
) -> RemoteCommand:
    """Send a PENDING STOP; ACCEPTED once the session is COMPLETED within the window."""
    async with session_factory() as db:
        command = await db.get(RemoteCommand, command_id)
    assert command is not None
    assert command.session_id is not None
    assert command.detail is not None
    request = RequestStop(transaction_id=str(command.detail["transaction_id"]))
    async with bus.subscribe(topics.session_updated(command.session_id)) as events:
        try:
            outcome = await commander.send(command.station_id, request, timeout_s=answer_timeout_s)
        except StationNotConnected as exc:
            return await _transition(
                session_factory, bus, command_id, RemoteCommandStatus.EVSE_INOPERATIVE,
                detail={"reason": str(exc)},
            )  # fmt: skip
        if outcome.status != CommandStatus.ACCEPTED:
            return await _transition(
                session_factory, bus, command_id, _refusal(outcome.status),
                detail={"answer": outcome.detail},
            )  # fmt: skip
        await _transition(session_factory, bus, command_id, RemoteCommandStatus.ACCEPTED_PENDING)

        async def ended(db: AsyncSession, row: RemoteCommand) -> bool:
            session = await db.get(ChargingSession, row.session_id)
            return session is not None and session.status == SessionStatus.COMPLETED

        final = await _await_final(session_factory, events, command_id, stop_window_s, ended)
    if final is not None:
        return await _transition(session_factory, bus, command_id, RemoteCommandStatus.ACCEPTED)
    return await _transition(
        session_factory, bus, command_id, RemoteCommandStatus.TIMEOUT,
        detail={"reason": f"the charger accepted but did not end the session in {stop_window_s}s"},
    )  # fmt: skip


async def _matching_start(
    db: AsyncSession, session: ChargingSession, remote_start_id: int | None
) -> RemoteCommand | None:
    statement = select(RemoteCommand).where(
        RemoteCommand.kind == CommandKind.START, RemoteCommand.station_id == session.station_id
    )
    if remote_start_id is not None:  # 2.0.1: the charger echoes the command's remoteStartId
        return (
            await db.exec(statement.where(RemoteCommand.remote_start_id == remote_start_id))
        ).first()
    if session.id_token is None:
        return None
    # 1.6 has no remoteStartId: the same EVSE and the driver's app token, newest first.
    candidates = await db.exec(
        statement.where(
            RemoteCommand.evse_id == session.evse_id,
            RemoteCommand.session_id == None,  # noqa: E711 (SQL IS NULL)
            RemoteCommand.created_at > datetime.now(UTC) - LATE_START_WINDOW,
        ).order_by(col(RemoteCommand.created_at).desc())
    )
    uid = session.id_token.lower()
    matching = [
        c for c in candidates.all() if str((c.detail or {}).get("id_token", "")).lower() == uid
    ]
    live = [c for c in matching if c.status in LIVE]
    timed_out = [c for c in matching if c.status == RemoteCommandStatus.TIMEOUT]
    if live:
        return live[0]
    return timed_out[0] if timed_out else None


async def link_started_session(
    db: AsyncSession,
    *,
    session: ChargingSession,
    remote_start_id: int | None,
    token_driver_id: int | EllipsisType | None = ...,
) -> StartLink | None:
    """Attribute a just-created session (inside the caller's unit of work, not committed).

    A live START command it answers becomes ACCEPTED with the session, and the session takes
    the command's driver, remoteStartId, departure and energy request. Otherwise a session
    started with a driver's RFID card belongs to that driver (`token_driver_id`: that card's
    driver, when the caller has already read the token; read here otherwise). The caller
    publishes `command_event` for the returned link after its commit.
    """
    command = await _matching_start(db, session, remote_start_id)
    if command is None or command.status not in (*LIVE, RemoteCommandStatus.TIMEOUT):
        if session.driver_id is None and session.id_token:
            if token_driver_id is ...:
                uid = canonical_uid(session.id_token)
                token = (await db.exec(select(IdToken).where(IdToken.uid == uid))).first()
                token_driver_id = token.driver_id if token is not None else None
            session.driver_id = token_driver_id
        return None
    result = await db.exec(
        update(RemoteCommand)
        .where(col(RemoteCommand.id) == command.id)
        .where(col(RemoteCommand.status).in_([s.value for s in LIVE]))
        .values(
            status=RemoteCommandStatus.ACCEPTED, session_id=session.id,
            completed_at=datetime.now(UTC),
        )
    )  # fmt: skip
    await db.refresh(command)
    if result.rowcount != 1:  # the window closed first: TIMEOUT stands, the start is refused
        command.detail = {**(command.detail or {}), "late_session_id": session.id}
        return StartLink(command.id, late=True)
    detail = command.detail or {}
    session.driver_id = command.driver_id
    session.remote_start_id = command.remote_start_id
    departure = detail.get("departure_at")
    session.departure_at = datetime.fromisoformat(departure) if departure else None
    session.requested_energy_wh = detail.get("requested_energy_wh")
    return StartLink(command.id, late=False)


async def publish_link(db_factory: SessionFactory, bus: EventBus, link: StartLink | None) -> None:
    """Announce the command a started session answered (after the caller's commit)."""
    if link is None:
        return
    async with db_factory() as db:
        command = await db.get(RemoteCommand, link.command_id)
    if command is not None:
        await bus.publish(command_topic(command.id), command_event(command))
