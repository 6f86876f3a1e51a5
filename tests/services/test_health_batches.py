"""The health checks write in short transactions: at most `WRITE_BATCH` stations or alerts per
write transaction, reads outside them; another session writes between two batches of a pass;
a pass that fails part-way leaves whole batches and the next pass finishes without duplicates."""

import asyncio
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, func, select

from app.db.engine import SessionFactory
from app.db.models import Alert, ChargingStation, StationConnectivityInterval
from app.domain.alerts import AlertState
from app.events import InProcessEventBus, Subscription
from app.monitoring.health import HealthMonitor
from app.services import health
from app.services.health import WRITE_BATCH
from app.settings import Settings

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
STATIONS = 2 * WRITE_BATCH + 20  # three batches, the last one partial
WRITES = ("INSERT", "UPDATE", "DELETE")


@dataclass
class Transactions:
    """Per write transaction (first INSERT/UPDATE/DELETE to commit or rollback): how many
    statements ran in it and how many rows it inserted into `table`."""

    table: str
    statements: list[int] = field(default_factory=list)
    inserted: list[int] = field(default_factory=list)
    _open: dict[int, list[int]] = field(default_factory=dict)

    def execute(self, conn: Any, statement: str, parameters: Any, executemany: bool) -> None:
        current = self._open.get(id(conn))
        if current is None:
            if not statement.lstrip().upper().startswith(WRITES):
                return  # a read outside a write transaction holds no write lock
            current = self._open[id(conn)] = [0, 0]
        current[0] += 1
        if statement.lstrip().upper().startswith(f"INSERT INTO {self.table.upper()} "):
            current[1] += len(parameters) if executemany else 1

    def end(self, conn: Any) -> None:
        current = self._open.pop(id(conn), None)
        if current is not None:
            self.statements.append(current[0])
            self.inserted.append(current[1])


@contextmanager
def watched(engine: AsyncEngine, table: str) -> Iterator[Transactions]:
    seen = Transactions(table)

    def before(conn: Any, _c: Any, statement: str, params: Any, _x: Any, many: bool) -> None:
        seen.execute(conn, statement, params, many)

    def end(conn: Any) -> None:
        seen.end(conn)

    sync = engine.sync_engine
    event.listen(sync, "before_cursor_execute", before)
    event.listen(sync, "commit", end)
    event.listen(sync, "rollback", end)
    try:
        yield seen
    finally:
        event.remove(sync, "before_cursor_execute", before)
        event.remove(sync, "commit", end)
        event.remove(sync, "rollback", end)


async def add_stations(factory: SessionFactory, *, online: bool) -> list[str]:
    """STATIONS stations, each in an open connectivity interval since T0 (online or not),
    none heard from since T0."""
    ids = [f"HB-{n:04d}" for n in range(STATIONS)]
    async with factory() as db:
        for station_id in ids:
            db.add(ChargingStation(id=station_id, online=online, connected_at=T0))
        await db.flush()
        for station_id in ids:
            db.add(
                StationConnectivityInterval(
                    station_id=station_id, online=online, started_at=T0,
                    reason="CONNECTED" if online else "DISCONNECTED",
                )
            )  # fmt: skip
        await db.commit()
    return ids


def monitor(
    settings: Settings, factory: SessionFactory, bus: InProcessEventBus, *, hours: int = 1
) -> HealthMonitor:
    at = T0 + timedelta(hours=hours)
    return HealthMonitor(settings=settings, session_factory=factory, bus=bus, clock=lambda: at)


async def open_alerts(factory: SessionFactory) -> tuple[int, int]:
    """(open STATION_OFFLINE alerts, distinct stations among them)."""
    async with factory() as db:
        return (
            await db.exec(
                select(func.count(), func.count(sa.distinct(col(Alert.station_id)))).where(
                    Alert.code == "STATION_OFFLINE", Alert.state == AlertState.OPEN
                )
            )
        ).one()


async def test_offline_alerts_of_many_stations_commit_a_batch_at_a_time(
    settings: Settings, session_factory: SessionFactory, engine: AsyncEngine
) -> None:
    await add_stations(session_factory, online=False)
    with watched(engine, "alert") as seen:
        await monitor(settings, session_factory, InProcessEventBus()).run_once()
    assert await open_alerts(session_factory) == (STATIONS, STATIONS)
    assert sum(seen.inserted) == STATIONS
    assert max(seen.inserted) == WRITE_BATCH  # was all of them in one transaction
    # Per alert: its read by open key and its insert; a few statements of slack.
    assert max(seen.statements) <= 2 * WRITE_BATCH + 5

    # The next pass: still true everywhere, one refreshing UPDATE per batch.
    with watched(engine, "alert") as again:
        await monitor(settings, session_factory, InProcessEventBus(), hours=2).run_once()
    assert again.inserted == [0, 0, 0]
    assert again.statements == [1, 1, 1]
    async with session_factory() as db:
        seen_at = set((await db.exec(select(Alert.last_seen_at))).all())
    assert seen_at == {T0 + timedelta(hours=2)}


async def test_silent_stations_go_offline_a_batch_at_a_time(
    settings: Settings, session_factory: SessionFactory, engine: AsyncEngine
) -> None:
    ids = await add_stations(session_factory, online=True)
    with watched(engine, "station_connectivity_interval") as seen:
        marked = await health.mark_silent_stations_offline(
            session_factory=session_factory, bus=InProcessEventBus(), now=T0 + timedelta(hours=1),
            thresholds=health.HealthThresholds(heartbeat_interval_s=60),
        )  # fmt: skip
    assert marked == ids
    assert seen.inserted == [WRITE_BATCH, WRITE_BATCH, STATIONS - 2 * WRITE_BATCH]
    async with session_factory() as db:
        online = (await db.exec(select(func.count()).where(col(ChargingStation.online)))).one()
        timeouts = (
            await db.exec(
                select(func.count()).where(
                    col(StationConnectivityInterval.ended_at).is_(None),
                    StationConnectivityInterval.reason == "HEARTBEAT_TIMEOUT",
                )
            )
        ).one()
    assert (online, timeouts) == (0, STATIONS)


class MidPassBus(InProcessEventBus):
    """On the first alert the pass publishes (it is still running: the publish is awaited),
    another session counts the committed alerts and writes a row, bounded."""

    def __init__(self, factory: SessionFactory) -> None:
        super().__init__()
        self.factory = factory
        self.seen_mid_pass: tuple[int, int] | None = None

    async def publish(self, topic: str, payload: Mapping[str, Any]) -> None:
        await super().publish(topic, payload)
        if self.seen_mid_pass is None and payload.get("type") == "AlertRaised":
            async with asyncio.timeout(10), self.factory() as db:
                db.add(ChargingStation(id="WRITTEN-MID-PASS"))
                await db.commit()
            self.seen_mid_pass = await open_alerts(self.factory)


async def test_another_session_writes_between_two_batches_of_a_pass(
    settings: Settings, session_factory: SessionFactory
) -> None:
    await add_stations(session_factory, online=False)
    bus = MidPassBus(session_factory)
    await monitor(settings, session_factory, bus).run_once()
    assert bus.seen_mid_pass == (WRITE_BATCH, WRITE_BATCH)  # was STATIONS: after the pass
    assert await open_alerts(session_factory) == (STATIONS, STATIONS)
    async with session_factory() as db:
        assert await db.get(ChargingStation, "WRITTEN-MID-PASS") is not None


def drain(subscription: Subscription) -> list[str]:
    """The types of the events published so far."""
    types = []
    while (published := subscription.get_nowait()) is not None:
        types.append(published[1]["type"])
    return types


async def test_a_pass_that_fails_part_way_is_finished_by_the_next(
    settings: Settings, session_factory: SessionFactory, engine: AsyncEngine
) -> None:
    await add_stations(session_factory, online=False)
    inserts = 0

    def fail_in_the_second_batch(_conn: Any, _c: Any, statement: str, *_: Any) -> None:
        nonlocal inserts
        if statement.lstrip().upper().startswith("INSERT INTO ALERT "):
            inserts += 1
            if inserts == WRITE_BATCH + 10:
                raise RuntimeError("database gone mid-batch")

    sync = engine.sync_engine
    event.listen(sync, "before_cursor_execute", fail_in_the_second_batch)
    bus = InProcessEventBus()
    try:
        async with bus.subscribe("alerts") as first_pass:
            await monitor(settings, session_factory, bus).run_once()  # logs the failure
            published = drain(first_pass)
    finally:
        event.remove(sync, "before_cursor_execute", fail_in_the_second_batch)
    assert published == ["AlertRaised"] * WRITE_BATCH  # the committed batch, no more
    assert await open_alerts(session_factory) == (WRITE_BATCH, WRITE_BATCH)  # one whole batch

    async with bus.subscribe("alerts") as second_pass:
        await monitor(settings, session_factory, bus).run_once()
        raised = drain(second_pass)
    assert raised == ["AlertRaised"] * (STATIONS - WRITE_BATCH)  # the rest, not the first again
    assert await open_alerts(session_factory) == (STATIONS, STATIONS)
