"""Session starts and ends reach the scheduler over the bus: a new session is allocated at once,
not on the next timer tick."""

import asyncio
from datetime import UTC, datetime, timedelta

from sqlmodel import col, select

from app.db.engine import SessionFactory
from app.db.models import ChargingSession, Evse
from app.db.models.capacity import CapacityNodeKind, PhaseWiring
from app.domain.commands import CommandOutcome, CommandStatus, SetChargingLimit, StationCommand
from app.events import InProcessEventBus, topics
from app.loadmgmt.scheduler import LoadScheduler
from app.services import transactions
from app.services.capacity import create_node
from app.settings import Settings
from tests.factories import make_location, make_station

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class Stations:
    """Online stations that accept every profile; `sent` wakes whoever waits for a profile."""

    def __init__(self, online: set[str]) -> None:
        self.online = online
        self.tx: dict[tuple[str, int], float] = {}
        self.sent = asyncio.Event()

    def is_connected(self, station_id: str) -> bool:
        return station_id in self.online

    async def send(
        self, station_id: str, command: StationCommand, *, timeout_s: float | None = None
    ) -> CommandOutcome:
        assert isinstance(command, SetChargingLimit)
        if command.transaction_id:
            self.tx[(station_id, command.ocpp_evse_id)] = command.limit_a or 0.0
            self.sent.set()
        return CommandOutcome(CommandStatus.ACCEPTED, {"status": "Accepted"})


async def two_station_circuit(factory: SessionFactory) -> list[Evse]:
    location = await make_location(factory)
    circuit = await create_node(
        session_factory=factory, name="circuit", kind=CapacityNodeKind.CIRCUIT,
        location_id=location.id, limit_a=32.0,
    )  # fmt: skip
    for n in range(2):
        await make_station(factory, station_id=f"EVT-{n}", location=location)
    async with factory() as db:
        evses = list((await db.exec(select(Evse).order_by(col(Evse.station_id)))).all())
    for evse in evses:
        await create_node(
            session_factory=factory, name=evse.uid, kind=CapacityNodeKind.EVSE,
            parent_id=circuit.id, evse_id=evse.id, phases=PhaseWiring.L1L2L3,
        )  # fmt: skip
    return evses


async def test_session_start_and_end_are_published_network_wide(
    session_factory: SessionFactory,
) -> None:
    await two_station_circuit(session_factory)
    bus = InProcessEventBus()
    async with bus.subscribe(topics.ALL_SESSIONS) as events:
        started = await transactions.start_session(
            session_factory=session_factory, bus=bus, station_id="EVT-1", ocpp_evse_id=1,
            id_token=None, meter_start_wh=0, started_at=NOW,
        )  # fmt: skip
        await transactions.stop_session(
            session_factory=session_factory, bus=bus, station_id="EVT-1",
            transaction_id=started.transaction_id, meter_stop_wh=5_000,
            ended_at=NOW + timedelta(hours=1),
        )  # fmt: skip
        received = []
        async with asyncio.timeout(5):
            async for topic, payload in events:
                received.append((topic, payload["type"], payload["session_id"], payload["at"]))
                if len(received) == 2:
                    break
    assert received == [
        (topics.ALL_SESSIONS, "SessionStarted", started.session_id, NOW.isoformat()),
        (topics.ALL_SESSIONS, "SessionEnded", started.session_id,
         (NOW + timedelta(hours=1)).isoformat()),
    ]  # fmt: skip


async def test_a_new_session_is_allocated_without_waiting_for_the_timer(
    settings: Settings, session_factory: SessionFactory
) -> None:
    evses = await two_station_circuit(session_factory)
    async with session_factory() as db:
        assert evses[0].id is not None
        db.add(
            ChargingSession(
                station_id="EVT-0", evse_id=evses[0].id, transaction_id="500",
                started_at=NOW - timedelta(minutes=5), requested_energy_wh=30_000,
            )
        )  # fmt: skip
        await db.commit()
    bus = InProcessEventBus()
    stations = Stations(online={"EVT-0", "EVT-1"})
    slow_timer = settings.model_copy(update={"loadmgmt_interval_s": 3600.0})
    loop = LoadScheduler(
        settings=slow_timer, session_factory=session_factory, bus=bus,
        commander=stations, clock=lambda: NOW,
    )  # fmt: skip
    passes = asyncio.Event()
    recompute = loop.recompute

    async def counted(sites: set[int] | None = None) -> float:
        wait_s = await recompute(sites)
        passes.set()
        return wait_s

    loop.recompute = counted  # type: ignore[method-assign]
    async with loop:
        async with asyncio.timeout(10):
            await passes.wait()  # the first pass: only EVT-0 charges
        assert set(stations.tx) == {("EVT-0", 1)}
        assert stations.tx[("EVT-0", 1)] > 30.0  # alone on the 32 A circuit
        stations.sent.clear()
        await transactions.start_session(
            session_factory=session_factory, bus=bus, station_id="EVT-1", ocpp_evse_id=1,
            id_token=None, meter_start_wh=0, started_at=NOW,
        )  # fmt: skip
        async with asyncio.timeout(10):
            while ("EVT-1", 1) not in stations.tx:
                await stations.sent.wait()
                stations.sent.clear()
    assert stations.tx[("EVT-1", 1)] > 0
    assert sum(stations.tx.values()) <= 32.0
