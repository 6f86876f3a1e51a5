"""The health monitor is a PeriodicTask: its first pass comes one interval (or a wake) after
start, not at once, then one every `health_check_interval_s`."""

import asyncio
from datetime import UTC, datetime, timedelta

from app.db.engine import SessionFactory
from app.db.models import ChargingStation
from app.events import InProcessEventBus
from app.monitoring.health import HealthMonitor
from app.settings import Settings

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


async def test_the_first_pass_waits_for_the_interval_or_a_wake(
    settings: Settings, session_factory: SessionFactory
) -> None:
    async with session_factory() as db:
        db.add(ChargingStation(id="LOOP-1", online=True, connected_at=T0))
        await db.commit()
    passes_at: list[datetime] = []

    def clock() -> datetime:
        passes_at.append(T0 + timedelta(hours=1))
        return passes_at[-1]

    monitor = HealthMonitor(
        settings=settings.model_copy(update={"health_check_interval_s": 3600.0}),
        session_factory=session_factory, bus=InProcessEventBus(), clock=clock,
    )  # fmt: skip
    async with monitor:
        for _ in range(3):  # a pass started at once would have read the clock by now
            await asyncio.sleep(0)
        assert passes_at == []
        monitor.wake()
        async with asyncio.timeout(10):
            await monitor.passed.wait()
    assert (len(passes_at), monitor.passes) == (1, 1)
    async with session_factory() as db:
        station = await db.get(ChargingStation, "LOOP-1")
    assert station is not None
    assert not station.online  # the pass ran the checks: silent for an hour


async def test_the_monitor_passes_on_its_timer(
    settings: Settings, session_factory: SessionFactory
) -> None:
    monitor = HealthMonitor(
        settings=settings.model_copy(update={"health_check_interval_s": 0.01}),
        session_factory=session_factory, bus=InProcessEventBus(),
    )  # fmt: skip
    async with monitor:
        for _ in range(2):
            async with asyncio.timeout(10):
                await monitor.passed.wait()
            monitor.passed.clear()
    assert monitor.passes >= 2
