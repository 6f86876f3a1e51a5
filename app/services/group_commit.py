"""Group commit: units of work of many stations share one transaction and one commit.

A charger's message costs a connection checkout, BEGIN and COMMIT (an fsync on PostgreSQL)
besides its own statements; under load those dominate, and on SQLite concurrent writers
queue on the database lock. Here each unit of work is a function of a session that does not
commit; a lane runs the units queued so far one after another on one session and commits once.
`run` returns only after that commit, so an OCPP answer is never sent before its rows are
durable (a charger that got its answer never resends). When any unit of a batch fails, the
batch is rolled back and each unit runs again alone, so one bad message fails only itself.
"""

import asyncio
import contextlib
import logging
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.engine import SessionFactory

log = logging.getLogger(__name__)

T = TypeVar("T")
Work = Callable[[AsyncSession], Awaitable[T]]


async def run_alone(session_factory: SessionFactory, work: Work[T]) -> T:
    """`work` in a transaction of its own, committed."""
    async with session_factory() as db:
        result = await work(db)
        await db.commit()
        return result


@dataclass
class _Lane:
    queue: list[tuple[str, Work[Any], "asyncio.Future[Any]"]] = field(default_factory=list)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: "asyncio.Task[None] | None" = None


class GroupCommit:
    """Runs units of work in shared transactions between `start()` and `stop()`.

    Units with the same key (a station id) go to the same lane, so they commit in the order
    they were submitted. SQLite has one lane (it has one writer anyway); PostgreSQL a few,
    so a slow batch does not hold every station. Before `start()` and after `stop()` a unit
    runs alone. Each lane holds one pooled connection while it commits a batch.
    """

    def __init__(
        self, *, session_factory: SessionFactory, lanes: int | None = None, max_batch: int = 200
    ) -> None:
        self._session_factory = session_factory
        bind: Any = session_factory.kw.get("bind")
        sqlite = bind is None or bind.dialect.name == "sqlite"
        if lanes is None:
            lanes = 1 if sqlite else 8
        # SQLite has one writer. The batches and the other hot writer (the message log) take
        # turns here instead of on the database lock, whose busy handler sleeps 1, 2, 5, 10, ...
        # 100 ms between tries: a batch behind a log write waited for its next try, not for
        # the write's end. PostgreSQL locks rows, not the database: no turn.
        self._turn = asyncio.Lock() if sqlite else None
        self._lanes = [_Lane() for _ in range(lanes)]
        self._max_batch = max_batch
        self._running = False
        self.batches = 0
        self.units = 0
        self.retried = 0

    async def run(self, key: str, work: Work[T]) -> T:
        """Run `work` (which must not commit) and return its result once it is committed."""
        if not self._running:
            return await run_alone(self._session_factory, work)
        lane = self._lanes[zlib.crc32(key.encode()) % len(self._lanes)]
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        lane.queue.append((key, work, future))
        lane.wake.set()
        return await future

    @contextlib.asynccontextmanager
    async def write_turn(self) -> AsyncIterator[None]:
        """Hold the database's write turn (SQLite) for a write outside the batches."""
        if self._turn is None:
            yield
            return
        async with self._turn:
            yield

    async def start(self) -> None:
        if self._running:
            return
        self._running = True
        for number, lane in enumerate(self._lanes):
            lane.task = asyncio.create_task(self._serve(lane), name=f"group-commit-{number}")

    async def stop(self) -> None:
        """Finish every queued unit (never cancel a batch mid-transaction), then stop."""
        self._running = False
        for lane in self._lanes:
            lane.wake.set()
        for lane in self._lanes:
            if lane.task is not None:
                await lane.task
                lane.task = None

    async def _serve(self, lane: _Lane) -> None:
        while self._running or lane.queue:
            if not lane.queue:
                await lane.wake.wait()
            lane.wake.clear()
            batch, lane.queue = lane.queue[: self._max_batch], lane.queue[self._max_batch :]
            if batch:
                await self._flush(batch)

    async def _flush(self, queued: list[tuple[str, Work[Any], "asyncio.Future[Any]"]]) -> None:
        self.batches += 1
        self.units += len(queued)
        # In key (station id) order, stable for one key's units: rows are locked in the order
        # the message log's writer locks station rows, so the two cannot deadlock on PostgreSQL.
        batch = [(work, future) for _, work, future in sorted(queued, key=lambda u: u[0])]
        results: list[Any] = []
        try:
            async with self.write_turn(), self._session_factory() as db:
                for work, _ in batch:
                    results.append(await work(db))
                await db.commit()
        except Exception as error:  # loop top: the units are answered one by one below
            if len(batch) == 1:
                _settle(batch[0][1], error=error)
                return
            log.info("a batch of %d units failed (%r); running each alone", len(batch), error)
            self.retried += len(batch)
            for work, future in batch:
                try:
                    async with self.write_turn():
                        result = await run_alone(self._session_factory, work)
                    _settle(future, result=result)
                except Exception as alone_error:  # loop top: this unit's caller gets it
                    _settle(future, error=alone_error)
            return
        for (_, future), result in zip(batch, results, strict=True):
            _settle(future, result=result)


def _settle(future: "asyncio.Future[Any]", *, result: Any = None, error: Any = None) -> None:
    # A caller that went away (its connection closed) leaves its future cancelled.
    with contextlib.suppress(asyncio.InvalidStateError):
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)


async def run_unit(
    session_factory: SessionFactory, group: GroupCommit | None, key: str, work: Work[T]
) -> T:
    """`work` through `group` when there is one, else in a transaction of its own."""
    if group is None:
        return await run_alone(session_factory, work)
    return await group.run(key, work)
