"""The batching writer behind the OCPP message log: frames queue in memory, flush periodically."""

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, nullcontext

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db.engine import SessionFactory
from app.services.message_log import LoggedFrame, write_frames_on

log = logging.getLogger(__name__)

DEFAULT_MAX_PENDING = 200_000  # ~0.5 KiB each: the frames of 3 storms of 10,000 reconnects
_RETRY_MAX_S = 5.0


def refused(error: BaseException) -> bool:
    """The database refused the rows themselves (a value, a constraint): writing them again
    fails again. Anything else (no pooled connection in time, a lost connection, a deadlock,
    the server restarting) passes, so those frames are kept and written later."""
    if isinstance(error, sa.exc.DBAPIError):
        return isinstance(error, sa.exc.IntegrityError | sa.exc.DataError)
    # A value that cannot be bound is refused before it reaches the database.
    return isinstance(error, sa.exc.StatementError | ValueError | TypeError)


class MessageLogWriter:
    """Collects frames (`record` never blocks) and writes them in batches.

    Runs between `start()` and `stop()` (which flushes what is left). A write that fails for
    a passing reason (the pool, the connection) keeps its frames for the next try, after a
    back-off. Frames are dropped, counted in `dropped` and logged only when the database
    refuses them, or past `max_pending` unwritten frames (the oldest): the log must never
    slow chargers down, nor grow without bound while the database is away.
    """

    def __init__(
        self,
        *,
        session_factory: SessionFactory,
        flush_interval_s: float = 0.5,
        max_batch: int = 500,
        max_pending: int = DEFAULT_MAX_PENDING,
        write_turn: Callable[[], AbstractAsyncContextManager[None]] | None = None,
    ) -> None:
        if max_pending < 1:
            raise ValueError(f"max_pending {max_pending}: expected at least 1")
        self._session_factory = session_factory
        # Held around each write: the group commit's turn on SQLite's one write lock.
        self._write_turn = write_turn or nullcontext
        self._interval = flush_interval_s
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._pending: deque[LoggedFrame] = deque()
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._failures = 0  # writes failed in a row for a passing reason (the back-off)
        self._dropped_unreported = 0
        self.dropped = 0
        self.written = 0
        # Called with every frame as it passes (metrics); must be cheap and never raise.
        self.observers: list[Callable[[LoggedFrame], None]] = []

    @property
    def pending(self) -> int:
        return len(self._pending)

    def record(self, frame: LoggedFrame) -> None:
        for observe in self.observers:
            observe(frame)
        if len(self._pending) >= self._max_pending:
            self._pending.popleft()
            self.dropped += 1
            self._dropped_unreported += 1  # logged by the flush, not once per frame here
        self._pending.append(frame)
        if len(self._pending) >= self._max_batch:
            self._wake.set()

    def _report_drops(self) -> None:
        if self._dropped_unreported:
            log.warning(
                "OCPP message log: dropped the %d oldest unwritten frames (more than "
                "max_pending %d waiting; %d dropped since start)",
                self._dropped_unreported,
                self._max_pending,
                self.dropped,
            )
            self._dropped_unreported = 0

    async def flush(self) -> bool:
        """Write every frame recorded so far (tests await this before reading the log).
        False when a write failed for a passing reason: its frames are kept for a later try."""
        async with self._lock:
            try:
                while self._pending:
                    # One connection for the whole backlog: queueing at the pool again per
                    # batch put the log behind every handshake of a reconnect storm.
                    async with self._connection() as conn:
                        while self._pending:
                            await self._write_batch(conn)
            except Exception as error:  # loop top: the log is diagnostics, never worth a crash
                self._failures += 1
                log.warning(
                    "OCPP message log: could not write (%s: %s); %d frames kept for a retry",
                    type(error).__name__,
                    error,
                    len(self._pending),
                )
                return False
            finally:
                self._report_drops()
            self._failures = 0
            return True

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection]:
        async with self._session_factory() as db:
            yield await db.connection()

    async def _write(self, conn: AsyncConnection, frames: list[LoggedFrame]) -> None:
        try:
            async with self._write_turn():
                await write_frames_on(conn, frames)
                await conn.commit()
        except Exception:
            with contextlib.suppress(Exception):  # a lost connection cannot roll back
                await conn.rollback()
            raise

    async def _write_batch(self, conn: AsyncConnection) -> None:
        """Write the oldest batch; on a passing failure it goes back to the queue's head."""
        # Off the queue while written: a frame dropped at the bound meanwhile is a newer one.
        batch = [self._pending.popleft() for _ in range(min(len(self._pending), self._max_batch))]
        try:
            await self._write(conn, batch)
        except Exception as error:
            if not refused(error):
                self._requeue(batch)
                raise
            log.warning("OCPP message log: a batch of %d frames refused (%s)", len(batch), error)
            await self._write_one_by_one(conn, batch)
            return
        self.written += len(batch)

    async def _write_one_by_one(self, conn: AsyncConnection, batch: list[LoggedFrame]) -> None:
        """After a refused batch: one frame the database refuses must not take the others.
        A passing failure here raises, and the frames not yet written go back to the queue."""
        for index, frame in enumerate(batch):
            try:
                await self._write(conn, [frame])
            except Exception as error:
                if not refused(error):
                    self._requeue(batch[index:])
                    raise
                log.warning(
                    "OCPP message log: the database refused a frame of station %s; dropped it (%s)",
                    frame.station_id,
                    error,
                )
                self.dropped += 1
            else:
                self.written += 1

    def _requeue(self, frames: list[LoggedFrame]) -> None:
        """Put unwritten `frames` back at the head, oldest first; past the bound the oldest go."""
        self._pending.extendleft(reversed(frames))
        excess = len(self._pending) - self._max_pending
        for _ in range(max(0, excess)):
            self._pending.popleft()
        if excess > 0:
            self.dropped += excess
            self._dropped_unreported += excess

    def _retry_delay_s(self) -> float:
        if not self._failures:
            return self._interval
        return min(_RETRY_MAX_S, self._interval * 2.0**self._failures)

    async def _run(self) -> None:
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._retry_delay_s()):
                    # After a failure, wait out the back-off whatever arrives: a full queue
                    # must not hammer a database that is refusing connections.
                    await (self._stopped if self._failures else self._wake).wait()
            self._wake.clear()
            if not self._stopping:  # else stop() flushes
                await self.flush()

    async def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._stopped.clear()
            self._task = asyncio.create_task(self._run(), name="ocpp-message-log")

    async def stop(self) -> None:
        """Finish the write under way (never cancel it mid-transaction: on SQLite a cancelled
        write can hold the database lock until its connection is collected), then flush;
        what still cannot be written is counted as dropped and logged."""
        if self._task is not None:
            self._stopping = True
            self._stopped.set()
            self._wake.set()
            await self._task
            self._task = None
        if not await self.flush() and self._pending:
            log.warning(
                "OCPP message log: stopping with %d frames the database did not take; dropped",
                len(self._pending),
            )
            self.dropped += len(self._pending)
            self._pending.clear()
