"""Remote operations for operators: record the command and its audit at once, send it in the
background, follow a long-running one to its end state.

`request_operation` is the synchronous half (one transaction: scope check, a PENDING
`RemoteCommand`, for firmware/diagnostics the job row, and an audit record REQUESTED).
`run_operation` sends it (a `CommandRunner` task) and writes the outcome; a second audit
record carries the final result. How each kind ends:

- instant (unlock, availability, trigger, configuration, clear cache): the station's answer
  is final (ACCEPTED, REJECTED, NOT_SUPPORTED, TIMEOUT, FAILED); `stationAnswer` keeps its
  word (Unlocked, RebootRequired, Scheduled, ...).
- RESET: ACCEPTED_PENDING with progress `Rebooting` until the station boots again (ACCEPTED,
  progress `Booted`), or TIMEOUT after `remote_operation_window_s`.
- UPDATE_FIRMWARE / UPLOAD_DIAGNOSTICS: ACCEPTED_PENDING, progress following the station's
  status notifications (`app.services.firmware`), until an end state: ACCEPTED (Installed,
  Uploaded) or FAILED (DownloadFailed, InstallationFailed, UploadFailed, ...), or TIMEOUT.
"""

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import col, update
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.engine import SessionFactory
from app.db.models import DiagnosticsUpload, RemoteCommand
from app.domain import commands as domain
from app.domain.commands import CommandOutcome, CommandStatus
from app.domain.errors import DomainError, StationNotConnected
from app.events import EventBus, topics
from app.services import audit, station_config
from app.services.commands import (
    LIVE,
    CommandKind,
    RemoteCommandStatus,
    command_event,
    command_topic,
)
from app.services.ports import StationCommander
from app.services.remote_requests import OperationRequest, request_operation

__all__ = ["OperationRequest", "request_operation", "run_operation", "set_progress"]

log = logging.getLogger(__name__)

LONG_RUNNING = frozenset(
    {CommandKind.RESET, CommandKind.UPDATE_FIRMWARE, CommandKind.UPLOAD_DIAGNOSTICS}
)
_OUTCOMES = {
    CommandStatus.ACCEPTED: RemoteCommandStatus.ACCEPTED,
    CommandStatus.REJECTED: RemoteCommandStatus.REJECTED,
    CommandStatus.NOT_SUPPORTED: RemoteCommandStatus.NOT_SUPPORTED,
    CommandStatus.TIMEOUT: RemoteCommandStatus.TIMEOUT,
    CommandStatus.FAILED: RemoteCommandStatus.FAILED,
}


def domain_command(command: RemoteCommand) -> domain.StationCommand:
    """The version-neutral command a stored operation stands for."""
    d: dict[str, Any] = command.detail or {}
    match CommandKind(command.kind):
        case CommandKind.RESET:
            return domain.Reset(hard=bool(d["hard"]))
        case CommandKind.UNLOCK_CONNECTOR:
            return domain.UnlockConnector(ocpp_evse_id=int(d["ocpp_evse_id"]))
        case CommandKind.CHANGE_AVAILABILITY:
            return domain.ChangeAvailability(
                operative=bool(d["operative"]), ocpp_evse_id=d.get("ocpp_evse_id")
            )
        case CommandKind.TRIGGER_MESSAGE:
            return domain.TriggerMessage(
                message=str(d["message"]), ocpp_evse_id=d.get("ocpp_evse_id")
            )
        case CommandKind.GET_CONFIGURATION:
            return domain.GetConfiguration(keys=tuple(d.get("keys") or ()))
        case CommandKind.CHANGE_CONFIGURATION:
            return domain.ChangeConfiguration(key=str(d["key"]), value=str(d["value"]))
        case CommandKind.CLEAR_CACHE:
            return domain.ClearCache()
        case CommandKind.UPDATE_FIRMWARE:
            return domain.UpdateFirmware(
                location=str(d["location"]),
                retrieve_at=datetime.fromisoformat(str(d["retrieve_at"])),
                request_id=int(d["request_id"]),
            )
        case CommandKind.UPLOAD_DIAGNOSTICS:
            return domain.UploadDiagnostics(
                location=str(d["location"]), request_id=int(d["request_id"])
            )
    raise ValueError(f"command {command.id} of kind {command.kind!r} is not a remote operation")


async def set_progress(
    db: AsyncSession,
    *,
    command_id: str,
    progress: str | None,
    status: RemoteCommandStatus | None = None,
    detail: dict[str, Any] | None = None,
    source: frozenset[RemoteCommandStatus] = LIVE,
) -> bool:
    """In the caller's unit of work: set a live command's progress (and status, detail).

    Only a command still in `source` changes, so a final word is never overwritten; True if
    it changed (the caller publishes `command_event` after its commit).
    """
    current = await db.get(RemoteCommand, command_id)
    if current is None:
        return False
    values: dict[str, Any] = {}
    if progress is not None:
        values["progress"] = progress[:40]
    if status is not None:
        values["status"] = status
        if status not in LIVE:
            values["completed_at"] = datetime.now(UTC)
    if detail:
        values["detail"] = {**(current.detail or {}), **detail}
    result = await db.exec(
        update(RemoteCommand)
        .where(col(RemoteCommand.id) == command_id)
        .where(col(RemoteCommand.status).in_([s.value for s in source]))
        .values(**values)
    )
    return bool(result.rowcount == 1)


async def _advance(
    session_factory: SessionFactory,
    bus: EventBus,
    command_id: str,
    *,
    status: RemoteCommandStatus | None = None,
    progress: str | None = None,
    detail: dict[str, Any] | None = None,
    source: frozenset[RemoteCommandStatus] = LIVE,
) -> RemoteCommand:
    """`set_progress` in its own transaction; a final status also gets its audit record."""
    async with session_factory() as db:
        changed = await set_progress(
            db, command_id=command_id, progress=progress, status=status, detail=detail,
            source=source,
        )  # fmt: skip
        row = await db.get(RemoteCommand, command_id)
        assert row is not None
        await db.refresh(row)
        if changed and status is not None and status not in LIVE:
            await audit_outcome(db, row)
        await db.commit()
    if changed:
        await bus.publish(command_topic(command_id), command_event(row))
    return row


async def audit_outcome(db: AsyncSession, command: RemoteCommand) -> None:
    """The audit record of a final status, by the operation's actor (in the caller's UoW)."""
    detail = command.detail or {}
    await audit.record(
        db=db,
        actor=str(detail.get("actor", "unknown")),
        operator_id=detail.get("operator_id"),
        action=str(detail.get("action", command.kind)),
        target=str(detail.get("target", f"station:{command.station_id}")),
        result=command.status,
        detail={
            "command_id": command.id,
            "answer": detail.get("answer"),
            "progress": command.progress,
        },
    )


async def run_operation(
    *,
    session_factory: SessionFactory,
    bus: EventBus,
    commander: StationCommander,
    command_id: str,
    reboot_window_s: float,
    firmware_window_s: float,
    answer_timeout_s: float | None = None,
) -> RemoteCommand:
    """Send a PENDING operation and follow it to a final status (see the module docstring)."""
    async with session_factory() as db:
        command = await db.get(RemoteCommand, command_id)
    assert command is not None
    kind = CommandKind(command.kind)
    # Subscribe before sending: a fast station may reboot or report before the answer is read.
    async with bus.subscribe(
        topics.station_status(command.station_id), command_topic(command_id)
    ) as events:
        sent_at = datetime.now(UTC)
        try:
            outcome = await commander.send(
                command.station_id, domain_command(command), timeout_s=answer_timeout_s
            )
        except StationNotConnected as exc:
            outcome = CommandOutcome(CommandStatus.FAILED, {"reason": str(exc)})
        except DomainError as exc:  # e.g. a key this OCPP version cannot express
            outcome = CommandOutcome(CommandStatus.FAILED, {"reason": str(exc)})
        answer = {"answer": outcome.detail.get("status"), **_kept(outcome.detail)}
        if outcome.status != CommandStatus.ACCEPTED:
            return await _advance(
                session_factory, bus, command_id, status=_OUTCOMES[outcome.status], detail=answer
            )
        if kind == CommandKind.GET_CONFIGURATION:
            await station_config.store_read(
                session_factory=session_factory, station_id=command.station_id,
                entries=outcome.detail.get("configuration", []), at=datetime.now(UTC),
            )  # fmt: skip
        elif kind == CommandKind.CHANGE_CONFIGURATION:
            detail = command.detail or {}
            await station_config.store_set(
                session_factory=session_factory, station_id=command.station_id,
                key=str(detail["key"]), value=str(detail["value"]), at=datetime.now(UTC),
            )  # fmt: skip
        elif kind == CommandKind.UPLOAD_DIAGNOSTICS and outcome.detail.get("file_name"):
            async with session_factory() as db:
                await db.exec(
                    update(DiagnosticsUpload)
                    .where(col(DiagnosticsUpload.command_id) == command_id)
                    .values(file_name=str(outcome.detail["file_name"])[:255])
                )
                await db.commit()
        if kind not in LONG_RUNNING:
            return await _advance(
                session_factory, bus, command_id, status=RemoteCommandStatus.ACCEPTED, detail=answer
            )
        row = await _advance(
            session_factory, bus, command_id, status=RemoteCommandStatus.ACCEPTED_PENDING,
            progress="Rebooting" if kind == CommandKind.RESET else None, detail=answer,
            source=frozenset({RemoteCommandStatus.PENDING}),
        )  # fmt: skip
        window = _window(kind, command, reboot_window_s, firmware_window_s)
        try:
            async with asyncio.timeout(window):
                while row.status in LIVE:
                    _, event = await events.get()
                    if kind == CommandKind.RESET and event.get("type") == "StationBooted":
                        booted = datetime.fromisoformat(str(event["at"]))
                        if booted >= sent_at:
                            return await _advance(
                                session_factory, bus, command_id,
                                status=RemoteCommandStatus.ACCEPTED, progress="Booted",
                            )  # fmt: skip
                    async with session_factory() as db:
                        fresh = await db.get(RemoteCommand, command_id)
                    assert fresh is not None
                    row = fresh
        except TimeoutError:
            return await _advance(
                session_factory, bus, command_id, status=RemoteCommandStatus.TIMEOUT,
                detail={"reason": f"no end state within {window:.0f}s of the answer"},
            )  # fmt: skip
    return row


def _kept(detail: dict[str, Any]) -> dict[str, Any]:
    """What of the station's answer the command keeps (not the configuration itself)."""
    return {k: v for k, v in detail.items() if k in ("reason", "file_name", "error_code")}


def _window(
    kind: CommandKind, command: RemoteCommand, reboot_window_s: float, firmware_window_s: float
) -> float:
    if kind != CommandKind.UPDATE_FIRMWARE:
        return reboot_window_s
    retrieve_at = datetime.fromisoformat(str((command.detail or {})["retrieve_at"]))
    wait = max(timedelta(0), retrieve_at - datetime.now(UTC))
    return wait.total_seconds() + firmware_window_s
