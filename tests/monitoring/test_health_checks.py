"""Derived faults, one health monitor pass at a time with an injected clock: each condition
opens one alert while it holds and resolves it when it clears."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from app.db.engine import SessionFactory
from app.db.models import Alert, ChargingSession, Evse, MeterSample, RemoteCommand
from app.domain.alerts import AlertState
from app.domain.enums import OcppVersion, SessionStatus
from app.events import InProcessEventBus
from app.monitoring.health import HealthMonitor
from app.services import stations
from app.settings import Settings
from tests.factories import make_station

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def monitor(settings: Settings, factory: SessionFactory, at: datetime) -> HealthMonitor:
    return HealthMonitor(
        settings=settings, session_factory=factory, bus=InProcessEventBus(), clock=lambda: at
    )


async def live_alerts(factory: SessionFactory) -> list[tuple[str, AlertState]]:
    async with factory() as db:
        rows = (await db.exec(select(Alert).order_by(col(Alert.id)))).all()
    return [(a.code, a.state) for a in rows]


async def start_session(factory: SessionFactory, *, at: datetime) -> ChargingSession:
    await make_station(factory, station_id="HC-1")
    async with factory() as db:
        evse = (await db.exec(select(Evse))).one()
        assert evse.id is not None
        session = ChargingSession(
            station_id="HC-1", evse_id=evse.id, transaction_id="tx-1", started_at=at,
            last_meter_at=at,
        )  # fmt: skip
        db.add(session)
        await db.commit()
        await db.refresh(session)
        return session


async def test_a_session_without_meter_values_raises_then_clears(
    settings: Settings, session_factory: SessionFactory
) -> None:
    session = await start_session(session_factory, at=T0)
    await monitor(settings, session_factory, T0 + timedelta(minutes=14)).run_once()
    assert await live_alerts(session_factory) == []
    for _ in range(2):  # still silent: the same alert, not a second one
        await monitor(settings, session_factory, T0 + timedelta(minutes=16)).run_once()
    assert await live_alerts(session_factory) == [("NO_METER_VALUES", AlertState.OPEN)]
    async with session_factory() as db:
        row = await db.get(ChargingSession, session.id)
        assert row is not None
        row.status = SessionStatus.COMPLETED
        await db.commit()
    await monitor(settings, session_factory, T0 + timedelta(minutes=17)).run_once()
    assert await live_alerts(session_factory) == [("NO_METER_VALUES", AlertState.RESOLVED)]


async def test_a_meter_register_going_backwards_raises(
    settings: Settings, session_factory: SessionFactory
) -> None:
    session = await start_session(session_factory, at=T0)
    watch = monitor(settings, session_factory, T0 + timedelta(minutes=1))
    for minute, wh in [(1, 1000.0), (2, 1500.0), (3, 900.0)]:
        async with session_factory() as db:
            db.add(
                MeterSample(
                    session_id=session.id, evse_id=session.evse_id, station_id="HC-1",
                    sampled_at=T0 + timedelta(minutes=minute),
                    measurand="Energy.Active.Import.Register", value=wh, unit="Wh",
                )
            )  # fmt: skip
            await db.commit()
        await watch.run_once()
    assert await live_alerts(session_factory) == [("METER_REGISTER_BACKWARDS", AlertState.OPEN)]


async def test_repeated_failed_starts_on_one_evse_raise(
    settings: Settings, session_factory: SessionFactory
) -> None:
    await make_station(session_factory, station_id="HC-1")
    async with session_factory() as db:
        evse = (await db.exec(select(Evse))).one()
        for n, status in enumerate(["REJECTED", "TIMEOUT", "FAILED"]):
            db.add(
                RemoteCommand(
                    id=f"cmd-{n}", kind="START", status=status, station_id="HC-1",
                    evse_id=evse.id, created_at=T0 + timedelta(minutes=n),
                )
            )  # fmt: skip
        await db.commit()
    await monitor(settings, session_factory, T0 + timedelta(minutes=5)).run_once()
    assert await live_alerts(session_factory) == [("REPEATED_FAILED_STARTS", AlertState.OPEN)]


@pytest.mark.parametrize(
    ("reconnects", "expected"),
    [(2, []), (5, [("CONNECTION_FLAPPING", AlertState.OPEN)])],
    ids=["steady", "flapping"],
)
async def test_connection_flapping(
    settings: Settings,
    session_factory: SessionFactory,
    reconnects: int,
    expected: list[tuple[str, AlertState]],
) -> None:
    await make_station(session_factory, station_id="HC-1")
    bus = InProcessEventBus()
    for n in range(reconnects):
        at = T0 + timedelta(seconds=10 * n)
        await stations.record_connected(
            session_factory=session_factory, bus=bus, station_id="HC-1",
            ocpp_version=OcppVersion.V16, at=at,
        )  # fmt: skip
        await stations.record_disconnected(
            session_factory=session_factory,
            bus=bus,
            station_id="HC-1",
            at=at + timedelta(seconds=5),
        )
    await stations.record_connected(
        session_factory=session_factory, bus=bus, station_id="HC-1",
        ocpp_version=OcppVersion.V16, at=T0 + timedelta(minutes=2),
    )  # fmt: skip
    await monitor(settings, session_factory, T0 + timedelta(minutes=2)).run_once()
    assert await live_alerts(session_factory) == expected


@pytest.mark.parametrize(
    ("boots", "expected"),
    [(2, []), (3, [("BOOT_LOOP", AlertState.OPEN)])],
    ids=["two-boots", "boot-loop"],
)
async def test_a_boot_loop_raises(
    settings: Settings,
    session_factory: SessionFactory,
    boots: int,
    expected: list[tuple[str, AlertState]],
) -> None:
    await make_station(session_factory, station_id="HC-1")
    for n in range(boots):
        await stations.record_boot(
            session_factory=session_factory, bus=InProcessEventBus(), station_id="HC-1",
            boot=stations.BootInfo(vendor="V", model="M"), at=T0 + timedelta(minutes=n),
        )  # fmt: skip
    await monitor(settings, session_factory, T0 + timedelta(minutes=3)).run_once()
    assert await live_alerts(session_factory) == expected
    # Ten quiet minutes later the loop is over and the alert resolves itself.
    await monitor(settings, session_factory, T0 + timedelta(minutes=30)).run_once()
    assert [state for _, state in await live_alerts(session_factory)] == [
        AlertState.RESOLVED for _ in expected
    ]
