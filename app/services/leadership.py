"""Leader election: the singleton tasks run on one instance, the holder of a PostgreSQL lock.

The leader holds a session-level advisory lock (`pg_try_advisory_lock`) on a connection of its
own, kept open for the whole term and checked every `poll_interval_s`. PostgreSQL frees the
lock the moment that session ends (process killed, connection cut), and a follower, trying
every `poll_interval_s`, takes it: takeover within about one poll interval. A leader that
cannot reach its connection stops the singletons at once, before it tries anything else.

A leader can also stop without its session ending: a frozen process or paused VM keeps its
socket open (the kernel still acknowledges), and a dead host's connection stays half-open
until TCP keepalive (2 h by default). So the lock's session carries a lease: the server ends it
after `lease_s` without a check (`idle_session_timeout`; the leader checks every poll interval)
and probes the peer with TCP keepalives on the same scale. Takeover then takes about `lease_s`
plus a poll interval, and the old leader's next check fails, so it steps down as it wakes.

The singletons do work that is idempotent or fenced by the database, so the short window in
which a leader that lost its connection has not noticed yet does no harm twice:
- reservation expiry: conditional UPDATEs from a live status (an expired reservation is
  expired once); a CancelReservation sent twice is answered by the charger either way;
- health monitor: alerts are opened and resolved by conditional writes keyed by their subject,
  a station already marked offline is not marked again;
- payment reconciler: every capture and release carries the payment's idempotency key, so
  Stripe moves the money once; the ledger row is written with a status guard;
- load-management scheduler: it sends absolute limits (profiles replace each other by id on
  the charger), so a profile sent twice sets the same limit; a new leader starts from nothing
  and sends every limit again, which is the documented behaviour of a restart;
- alert webhook: a delivery carries the alert's id for the receiver to drop repeats;
- remote command sweep: a conditional UPDATE from a live status, so a command ends once.

With `elect=False` (SQLite, or no REDIS_URL: one instance) the instance always leads.
"""

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from types import TracebackType
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

Singleton = Callable[[], AbstractAsyncContextManager[Any]]
"""Builds (or returns again) what runs only on the leader; entered for each term."""


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for `name`."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


LEADER_LOCK = lock_key("chargenet:leader")


class Leadership:
    """Owns the singleton tasks (enter it in the lifespan): runs them while this instance
    leads, stops them when it stops leading. `is_leader` and `terms` are for /readyz and tests.
    """

    def __init__(
        self,
        *,
        database_url: str,
        instance_id: str,
        elect: bool,
        poll_interval_s: float,
        singletons: Sequence[Singleton],
        key: int = LEADER_LOCK,
        lease_s: float | None = None,
    ) -> None:
        self.instance_id = instance_id
        self.elect = elect
        self.poll_interval_s = poll_interval_s
        # Long enough that a busy event loop does not lose the lock between checks.
        self.lease_s = lease_s if lease_s is not None else max(5 * poll_interval_s, 10.0)
        self.is_leader = False
        self.terms = 0
        self.changed = asyncio.Event()  # set on every change of `is_leader`
        self._database_url = database_url
        self._singletons = list(singletons)
        self._key = key
        self._engine: AsyncEngine | None = None
        self._connection: AsyncConnection | None = None
        self._running: AsyncExitStack | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        if not self.elect:
            await self._begin_term()
            return self
        # NullPool: closing the connection really ends the session, and with it the lock.
        self._engine = create_async_engine(self._database_url, poolclass=NullPool)
        await self._poll()  # a lone instance leads from its first moment
        self._task = asyncio.create_task(self._run(), name="leader-election")
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
        await self._end_term()
        await self._drop_connection()
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval_s)
            try:
                await self._poll()
            except Exception:  # loop top: the next poll tries again
                log.exception("leader election poll failed")

    async def _poll(self) -> None:
        """Leader: check the lock's connection. Follower: try to take the lock."""
        try:
            async with asyncio.timeout(max(self.poll_interval_s, 1.0)):
                if self.is_leader:
                    await self._check()
                else:
                    await self._try_lock()
        except (TimeoutError, SQLAlchemyError, OSError) as error:
            if self.is_leader:
                log.error(
                    "instance %s lost its leader lock connection: %s", self.instance_id, error
                )
                await self._end_term()  # stop at once: another instance may lead already
            else:
                log.warning("leader election: database unreachable: %s", error)
            await self._drop_connection()

    async def _check(self) -> None:
        assert self._connection is not None
        await self._connection.execute(sa.text("SELECT 1"))

    async def _try_lock(self) -> None:
        assert self._engine is not None
        if self._connection is None:
            self._connection = await self._engine.connect()
            # Autocommit: the lock belongs to the session, not to a transaction left open.
            await self._connection.execution_options(isolation_level="AUTOCOMMIT")
            await self._lease(self._connection)
        taken = await self._connection.scalar(
            sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}
        )
        if taken:
            log.info("instance %s is the leader", self.instance_id)
            try:
                await self._begin_term()
            except BaseException:  # give the lock back rather than hold it without leading
                await self._drop_connection()
                raise

    async def _lease(self, connection: AsyncConnection) -> None:
        """The server ends this session after `lease_s` without a statement, and finds a dead
        peer by TCP keepalive within about `lease_s` (see the module docstring)."""
        probe_s = max(1, round(self.lease_s / 4))
        settings = {
            "idle_session_timeout": str(round(self.lease_s * 1000)),  # milliseconds
            "tcp_keepalives_idle": str(probe_s),
            "tcp_keepalives_interval": str(probe_s),
            "tcp_keepalives_count": "3",
        }
        for name, value in settings.items():
            await connection.execute(
                sa.text("SELECT set_config(:name, :value, false)"), {"name": name, "value": value}
            )

    async def _begin_term(self) -> None:
        stack = AsyncExitStack()
        try:
            for build in self._singletons:
                await stack.enter_async_context(build())
        except BaseException:
            await stack.aclose()
            raise
        self._running = stack
        self.is_leader = True
        self.terms += 1
        self._signal()

    async def _end_term(self) -> None:
        if self._running is not None:
            running, self._running = self._running, None
            self.is_leader = False
            self._signal()
            await running.aclose()

    async def _drop_connection(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with contextlib.suppress(SQLAlchemyError, OSError, TimeoutError):
                await connection.invalidate()

    def _signal(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()
