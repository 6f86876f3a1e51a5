"""The batching writer behind the OCPP message log: frames queue in memory, flush periodically."""

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, nullcontext

from app.db.engine import SessionFactory
from app.services.message_log import LoggedFrame, write_frames

log = logging.getLogger(__name__)


class MessageLogWriter:
    """Collects frames (`record` never blocks) and writes them in batches.

    Runs between `start()` and `stop()` (which flushes what is left). Past `max_pending`
    unwritten frames the oldest are dropped and counted: the log must never slow chargers down.
    """

    def __init__(
        self,
        *,
        session_factory: SessionFactory,
        flush_interval_s: float = 0.5,
        max_batch: int = 500,
        max_pending: int = 50_000,
        write_turn: Callable[[], AbstractAsyncContextManager[None]] | None = None,
    ) -> None:
        self._session_factory = session_factory
        # Held around each write: the group commit's turn on SQLite's one write lock.
        self._write_turn = write_turn or nullcontext
        self._interval = flush_interval_s
        self._max_batch = max_batch
        self._pending: deque[LoggedFrame] = deque(maxlen=max_pending)
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.dropped = 0
        self.written = 0
        # Called with every frame as it passes (metrics); must be cheap and never raise.
        self.observers: list[Callable[[LoggedFrame], None]] = []

    def record(self, frame: LoggedFrame) -> None:
        for observe in self.observers:
            observe(frame)
        if len(self._pending) == self._pending.maxlen:
            self.dropped += 1
        self._pending.append(frame)
        if len(self._pending) >= self._max_batch:
            self._wake.set()

    async def flush(self) -> None:
        """Write every frame recorded so far (tests await this before reading the log)."""
        async with self._lock:
            while self._pending:
                count = min(len(self._pending), self._max_batch)
                batch = [self._pending.popleft() for _ in range(count)]
                try:
                    async with self._write_turn():
                        await write_frames(session_factory=self._session_factory, frames=batch)
                    self.written += len(batch)
                except Exception:  # loop top: the log is diagnostics, never worth a crash
                    log.warning("could not write %d OCPP log frames at once", len(batch))
                    await self._write_one_by_one(batch)

    async def _write_one_by_one(self, batch: list[LoggedFrame]) -> None:
        """After a failed batch: one frame the database refuses must not take the others."""
        for frame in batch:
            try:
                async with self._write_turn():
                    await write_frames(session_factory=self._session_factory, frames=[frame])
                self.written += 1
            except Exception:  # loop top: the log is diagnostics, never worth a crash
                log.exception(
                    "could not write an OCPP log frame of station %s; dropped it", frame.station_id
                )
                self.dropped += 1

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._interval):
                    await self._wake.wait()
            self._wake.clear()
            await self.flush()

    async def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="ocpp-message-log")

    async def stop(self) -> None:
        """Finish the write under way (never cancel it mid-transaction: on SQLite a cancelled
        write can hold the database lock until its connection is collected), then flush."""
        if self._task is not None:
            self._stopping = True
            self._wake.set()
            await self._task
            self._task = None
        await self.flush()
