"""Remote starts and stops whose follower died: the leader gives them their final TIMEOUT.

The instance that accepted a `startSession`/`stopSession` follows the command to its outcome in
a task of its own (`CommandRunner`). If that instance dies, nobody would ever time the command
out: the driver's `commandResult` would stay pending and the payment hold would never be
released. This sweep, a singleton on the leader, moves START and STOP commands still live long
after any follower would have finished to TIMEOUT, with the same conditional UPDATE from a live
status as the follower uses, so a follower that is alive after all, or a charger that starts
the transaction meanwhile, keeps the final word. The reconciler then releases the hold.
Long-running remote operations (firmware, diagnostics, reset) are left alone.
"""

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self

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

log = logging.getLogger(__name__)

SWEPT_KINDS = (CommandKind.START.value, CommandKind.STOP.value)
GRACE = timedelta(seconds=60)  # beyond the follower's own deadline, for slow machines


class CommandSweeper:
    """`async with` sweeps every `interval_s`; `sweep_once(now=...)` for tests."""

    def __init__(
        self,
        *,
        session_factory: SessionFactory,
        bus: EventBus,
        follower_deadline_s: float,
        interval_s: float = 30.0,
    ) -> None:
        self._session_factory = session_factory
        self._bus = bus
        self.stale_after = timedelta(seconds=follower_deadline_s) + GRACE
        self.interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    async def sweep_once(self, *, now: datetime | None = None) -> list[str]:
        """TIMEOUT for every START/STOP live since before `now - stale_after`; their ids."""
        cutoff = (now or datetime.now(UTC)) - self.stale_after
        live = [s.value for s in LIVE]
        async with self._session_factory() as db:
            stale = (
                await db.exec(
                    select(RemoteCommand.id)
                    .where(col(RemoteCommand.kind).in_(SWEPT_KINDS))
                    .where(col(RemoteCommand.status).in_(live))
                    .where(col(RemoteCommand.created_at) < cutoff)
                    .order_by(col(RemoteCommand.created_at))
                    .limit(500)
                )
            ).all()
        swept = []
        for command_id in stale:
            async with self._session_factory() as db:
                row = await db.get(RemoteCommand, command_id)
                if row is None:
                    continue
                detail = {**(row.detail or {}), "reason": "no instance followed it to an outcome"}
                result = await db.exec(
                    update(RemoteCommand)
                    .where(col(RemoteCommand.id) == command_id)
                    .where(col(RemoteCommand.status).in_(live))
                    .values(
                        status=RemoteCommandStatus.TIMEOUT.value,
                        completed_at=datetime.now(UTC),
                        detail=detail,
                    )
                )
                await db.commit()
                if result.rowcount != 1:
                    continue  # its follower or its transaction got there first
                await db.refresh(row)
            swept.append(command_id)
            await self._bus.publish(command_topic(command_id), command_event(row))
        if swept:
            log.warning("%d remote commands had no follower left: TIMEOUT", len(swept))
        return swept

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep_once()
            except Exception:  # loop top: the next pass tries again
                log.exception("remote command sweep failed")
            await asyncio.sleep(self.interval_s)

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name="command-sweep")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
