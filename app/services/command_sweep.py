"""Commands whose follower died: the leader gives them their final TIMEOUT.

The instance that accepted a command follows it to its outcome in a task of its own
(`CommandRunner`): a remote start or stop until the charger opens or ends the transaction, a
reset until the station boots again, a firmware update or diagnostics upload until the station
reports an end state. If that instance dies (a crash, a SIGKILL, a restart), nobody would ever
time the command out: `commandResult` would stay pending forever and a payment hold would
never be released. This sweep, a singleton on the leader, moves such commands still live well
after their follower would have finished (its deadline plus a grace) to TIMEOUT, with the same
conditional UPDATE from a live status as the follower uses, so a follower alive after all, or a
station's own final report (a transaction, Installed, UploadFailed) meanwhile, keeps the final
word. The reconciler then releases a hold; a remote operation also gets its audit record.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import col, select, update

from app.db.engine import SessionFactory
from app.db.models import RemoteCommand
from app.events import EventBus
from app.services.commands import (
    LIVE,
    CommandKind,
    RemoteCommandStatus,
    command_event,
    command_topic,
)
from app.services.periodic import PeriodicTask
from app.services.remote_operations import audit_outcome

log = logging.getLogger(__name__)

START_STOP = (CommandKind.START.value, CommandKind.STOP.value)
OPERATIONS = (CommandKind.RESET.value, CommandKind.UPLOAD_DIAGNOSTICS.value)
FIRMWARE = (CommandKind.UPDATE_FIRMWARE.value,)
GRACE = timedelta(seconds=60)  # beyond the follower's own deadline, for slow machines
BATCH = 500
REASON = "no instance followed it to an outcome"


@dataclass(frozen=True, slots=True)
class _Live:
    id: str
    kind: str
    created_at: datetime
    detail: dict[str, Any] | None


class CommandSweeper(PeriodicTask):
    """`async with` sweeps every `interval_s`; `sweep_once(now=...)` for tests.

    Deadlines, counted from the command's creation: `follower_deadline_s` for a START/STOP;
    `operation_deadline_s` for a RESET or UPLOAD_DIAGNOSTICS; `firmware_deadline_s` for an
    UPDATE_FIRMWARE, counted from its retrieve time when that is later. None: not swept.
    """

    task_name = "remote command sweep"

    def __init__(
        self,
        *,
        session_factory: SessionFactory,
        bus: EventBus,
        follower_deadline_s: float,
        operation_deadline_s: float | None = None,
        firmware_deadline_s: float | None = None,
        grace: timedelta = GRACE,
        interval_s: float = 30.0,
    ) -> None:
        super().__init__(interval_s=interval_s)
        self._session_factory = session_factory
        self._bus = bus
        self.grace = grace
        self.stale_after = timedelta(seconds=follower_deadline_s) + grace
        self._deadlines: list[tuple[tuple[str, ...], timedelta]] = [(START_STOP, self.stale_after)]
        if operation_deadline_s is not None:
            self._deadlines.append((OPERATIONS, timedelta(seconds=operation_deadline_s) + grace))
        if firmware_deadline_s is not None:
            self._deadlines.append((FIRMWARE, timedelta(seconds=firmware_deadline_s) + grace))

    async def run_pass(self) -> None:
        await self.sweep_once()

    async def sweep_once(self, *, now: datetime | None = None) -> list[str]:
        """TIMEOUT for every live command past its deadline at `now`; their ids."""
        at = now or datetime.now(UTC)
        swept: list[str] = []
        for kinds, stale_after in self._deadlines:
            for row in await self._live(kinds, before=at - stale_after):
                if row.kind in FIRMWARE and at < _retrieve_at(row) + stale_after:
                    continue  # scheduled for later: its window starts at the retrieve time
                if await self._time_out(row):
                    swept.append(row.id)
        if swept:
            log.warning("%d remote commands had no follower left: TIMEOUT", len(swept))
        return swept

    async def _live(self, kinds: tuple[str, ...], *, before: datetime) -> list[_Live]:
        live = [s.value for s in LIVE]
        async with self._session_factory() as db:
            rows = await db.exec(
                select(
                    RemoteCommand.id,
                    RemoteCommand.kind,
                    RemoteCommand.created_at,
                    RemoteCommand.detail,
                )
                .where(col(RemoteCommand.kind).in_(kinds))
                .where(col(RemoteCommand.status).in_(live))
                .where(col(RemoteCommand.created_at) < before)
                .order_by(col(RemoteCommand.created_at))
                .limit(BATCH)
            )
            return [_Live(*row) for row in rows.all()]

    async def _time_out(self, live_row: _Live) -> bool:
        """The conditional UPDATE to TIMEOUT; False if a final word came first."""
        async with self._session_factory() as db:
            row = await db.get(RemoteCommand, live_row.id)
            if row is None:
                return False
            result = await db.exec(
                update(RemoteCommand)
                .where(col(RemoteCommand.id) == live_row.id)
                .where(col(RemoteCommand.status).in_([s.value for s in LIVE]))
                .values(
                    status=RemoteCommandStatus.TIMEOUT.value,
                    completed_at=datetime.now(UTC),
                    detail={**(row.detail or {}), "reason": REASON},
                )
            )
            if result.rowcount != 1:
                await db.rollback()
                return False  # its follower, its transaction or the station got there first
            await db.refresh(row)
            if row.kind not in START_STOP:
                await audit_outcome(db, row)  # as the follower does for an operation's end
            await db.commit()
            await db.refresh(row)
        await self._bus.publish(command_topic(row.id), command_event(row))
        return True


def _retrieve_at(row: _Live) -> datetime:
    """When a firmware update may start downloading (its creation when not given)."""
    given = (row.detail or {}).get("retrieve_at")
    if not given:
        return row.created_at
    retrieve_at = datetime.fromisoformat(str(given))
    if retrieve_at.tzinfo is None:
        retrieve_at = retrieve_at.replace(tzinfo=UTC)
    return max(row.created_at, retrieve_at)
