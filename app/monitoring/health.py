"""The health monitor: a background task that runs the health checks on a timer."""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from app.db.engine import SessionFactory
from app.events import EventBus
from app.services import health, health_sessions
from app.services.health import WriteTurn, no_turn
from app.services.periodic import PeriodicTask
from app.settings import Settings

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class HealthMonitor(PeriodicTask):
    """Owned by the app's lifespan (`async with`): checks every `health_check_interval_s`.

    `clock` is injected so tests drive time; `run_once()` runs one pass at the clock's now.
    `write_turn` is taken around each of the checks' short write transactions (on SQLite, the
    OCPP group commit's turn, so they queue in-process rather than on the database lock).
    """

    task_name = "health monitor"
    # As before the move onto PeriodicTask: the first pass one interval after start. A pass
    # at once would judge the rows a test (or a seeding script) is still writing.
    first_pass_at_start = False

    def __init__(
        self,
        *,
        settings: Settings,
        session_factory: SessionFactory,
        bus: EventBus,
        clock: Clock = utc_now,
        write_turn: WriteTurn = no_turn,
    ) -> None:
        super().__init__(interval_s=settings.health_check_interval_s)
        self.session_factory = session_factory
        self.bus = bus
        self.clock = clock
        self.write_turn = write_turn
        self.thresholds = health.HealthThresholds(
            heartbeat_interval_s=settings.ocpp_heartbeat_interval_s,
            offline_alert_after_s=settings.health_offline_alert_after_s,
            meter_silence_s=settings.health_meter_silence_s,
            max_session_s=settings.health_max_session_s,
        )
        self.registers = health_sessions.RegisterWatch()
        self._lock = asyncio.Lock()  # a test's run_once and a timer pass never overlap
        self.passes = 0
        self.passed = asyncio.Event()

    async def run_pass(self) -> None:
        await self.run_once()

    def after_pass(self) -> None:
        self.passes += 1
        self.passed.set()

    async def run_once(self) -> None:
        """One pass of every check; a failing check is logged and the others still run. Each
        check reads first and then writes in short transactions (see `health.WRITE_BATCH`)."""
        async with self._lock:
            now = self.clock()
            factory, bus, turn, limits = (
                self.session_factory, self.bus, self.write_turn, self.thresholds,
            )  # fmt: skip
            checks: list[tuple[str, Callable[[], Awaitable[object]]]] = [
                ("talking stations", lambda: health.mark_talking_stations_online(
                    session_factory=factory, bus=bus, now=now, write_turn=turn)),
                ("silent stations", lambda: health.mark_silent_stations_offline(
                    session_factory=factory, bus=bus, now=now, write_turn=turn,
                    thresholds=limits)),
                ("connectivity", lambda: health.check_connectivity(
                    session_factory=factory, bus=bus, now=now, write_turn=turn,
                    thresholds=limits)),
                ("sessions", lambda: health_sessions.check_sessions(
                    session_factory=factory, bus=bus, now=now, write_turn=turn,
                    thresholds=limits)),
                ("meter registers", lambda: self.registers.check(
                    session_factory=factory, bus=bus, now=now, write_turn=turn)),
            ]  # fmt: skip
            for name, check in checks:
                try:
                    await check()
                except Exception:  # loop top: one broken check must not stop the others
                    log.exception("health check %r failed", name)
