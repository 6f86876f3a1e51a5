"""The health monitor: a background task that runs the health checks on a timer."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from app.db.engine import SessionFactory
from app.events import EventBus
from app.services import health, health_sessions
from app.settings import Settings

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class HealthMonitor:
    """Owned by the app's lifespan (`async with`): checks every `health_check_interval_s`.

    `clock` is injected so tests drive time; `run_once()` runs one pass at the clock's now.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        session_factory: SessionFactory,
        bus: EventBus,
        clock: Clock = utc_now,
    ) -> None:
        self.session_factory = session_factory
        self.bus = bus
        self.clock = clock
        self.interval_s = settings.health_check_interval_s
        self.thresholds = health.HealthThresholds(
            heartbeat_interval_s=settings.ocpp_heartbeat_interval_s,
            offline_alert_after_s=settings.health_offline_alert_after_s,
            meter_silence_s=settings.health_meter_silence_s,
            max_session_s=settings.health_max_session_s,
        )
        self.registers = health_sessions.RegisterWatch()
        self._lock = asyncio.Lock()  # a test's run_once and a timer pass never overlap
        self._task: asyncio.Task[None] | None = None

    async def run_once(self) -> None:
        """One pass of every check; a failing check is logged and the others still run."""
        async with self._lock:
            now = self.clock()
            checks: list[tuple[str, Callable[[], Awaitable[object]]]] = [
                ("talking stations", lambda: health.mark_talking_stations_online(
                    session_factory=self.session_factory, bus=self.bus, now=now)),
                ("silent stations", lambda: health.mark_silent_stations_offline(
                    session_factory=self.session_factory, bus=self.bus, now=now,
                    thresholds=self.thresholds)),
                ("connectivity", lambda: health.check_connectivity(
                    session_factory=self.session_factory, bus=self.bus, now=now,
                    thresholds=self.thresholds)),
                ("sessions", lambda: health_sessions.check_sessions(
                    session_factory=self.session_factory, bus=self.bus, now=now,
                    thresholds=self.thresholds)),
                ("meter registers", lambda: self.registers.check(
                    session_factory=self.session_factory, bus=self.bus, now=now)),
            ]  # fmt: skip
            for name, check in checks:
                try:
                    await check()
                except Exception:  # loop top: one broken check must not stop the others
                    log.exception("health check %r failed", name)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.run_once()

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run(), name="health-monitor")
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
