"""Per-site recompute: an event on one site allocates that site only and sends nothing to another;
the timed pass skips sites whose inputs did not change."""

import asyncio
from datetime import UTC, datetime, timedelta

from sqlmodel import col, select

from app.db.engine import SessionFactory
from app.db.models import ChargingSession, Evse
from app.db.models.capacity import CapacityNodeKind, PhaseWiring
from app.domain.commands import CommandOutcome, CommandStatus, SetChargingLimit, StationCommand
from app.events import InProcessEventBus
from app.loadmgmt.scheduler import LoadScheduler
from app.services import transactions
from app.services.capacity import create_node
from app.settings import Settings
from tests.factories import make_location, make_station

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class Stations:
    """Online stations that accept every profile and log what each was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, SetChargingLimit]] = []
        self.arrived = asyncio.Event()

    def is_connected(self, station_id: str) -> bool:
        return True

    async def send(
        self, station_id: str, command: StationCommand, *, timeout_s: float | None = None
    ) -> CommandOutcome:
        assert isinstance(command, SetChargingLimit)
        self.sent.append((station_id, command))
        self.arrived.set()
        return CommandOutcome(CommandStatus.ACCEPTED, {"status": "Accepted"})

    def stations(self) -> set[str]:
        return {s for s, _ in self.sent}


async def make_site(factory: SessionFactory, prefix: str, *, charging: int) -> int:
    """A 32 A circuit with two one-EVSE stations, `charging` of them in a session; its root id."""
    location = await make_location(factory)
    circuit = await create_node(
        session_factory=factory, name=f"{prefix} circuit", kind=CapacityNodeKind.CIRCUIT,
        location_id=location.id, limit_a=32.0,
    )  # fmt: skip
    for n in range(2):
        await make_station(factory, station_id=f"{prefix}-{n}", location=location)
    async with factory() as db:
        evses = list(
            (
                await db.exec(
                    select(Evse)
                    .where(col(Evse.station_id).startswith(prefix))
                    .order_by(col(Evse.station_id))
                )
            ).all()
        )
        for n, evse in enumerate(evses[:charging]):
            assert evse.id is not None
            db.add(
                ChargingSession(
                    station_id=evse.station_id, evse_id=evse.id, transaction_id=f"{n + 7}",
                    started_at=NOW - timedelta(minutes=5), requested_energy_wh=30_000,
                )
            )  # fmt: skip
        await db.commit()
    for evse in evses:
        await create_node(
            session_factory=factory, name=evse.uid, kind=CapacityNodeKind.EVSE,
            parent_id=circuit.id, evse_id=evse.id, phases=PhaseWiring.L1L2L3,
        )  # fmt: skip
    assert circuit.id is not None
    return circuit.id


async def test_a_session_start_on_one_site_does_not_allocate_or_touch_another(
    settings: Settings, session_factory: SessionFactory
) -> None:
    site_a = await make_site(session_factory, "SITEA", charging=1)
    site_b = await make_site(session_factory, "SITEB", charging=1)
    bus = InProcessEventBus()
    stations = Stations()
    loop = LoadScheduler(
        settings=settings.model_copy(update={"loadmgmt_interval_s": 3600.0}),
        session_factory=session_factory, bus=bus, commander=stations, clock=lambda: NOW,
    )  # fmt: skip
    passes: asyncio.Queue[tuple[set[int] | None, dict[int, int]]] = asyncio.Queue()
    recompute = loop.recompute

    async def recorded(sites: set[int] | None = None) -> float:
        wait_s = await recompute(sites)
        passes.put_nowait((sites, dict(loop.solved_sites)))
        return wait_s

    loop.recompute = recorded  # type: ignore[method-assign]
    async with loop:
        async with asyncio.timeout(10):
            first = await passes.get()
        assert first == (None, {site_a: 1, site_b: 1})  # the first pass: every site
        assert stations.stations() == {"SITEA-0", "SITEA-1", "SITEB-0", "SITEB-1"}
        stations.sent.clear()
        await transactions.start_session(
            session_factory=session_factory, bus=bus, station_id="SITEA-1", ocpp_evse_id=1,
            id_token=None, meter_start_wh=0, started_at=NOW,
        )  # fmt: skip
        async with asyncio.timeout(10):
            sites, solved = await passes.get()
    assert sites == {site_a}
    assert solved == {site_a: 1}  # site B's allocator was not called
    assert stations.stations() == {"SITEA-0", "SITEA-1"}  # both of A re-shared, nothing to B
    tx = {s: c.limit_a or 0.0 for s, c in stations.sent if c.transaction_id}
    assert "SITEA-1" in tx
    assert sum(tx.values()) <= 32.0


async def test_the_timed_pass_skips_sites_whose_inputs_did_not_change(
    settings: Settings, session_factory: SessionFactory
) -> None:
    site_a = await make_site(session_factory, "TIMA", charging=1)
    site_b = await make_site(session_factory, "TIMB", charging=1)
    stations = Stations()
    clock = [NOW]
    loop = LoadScheduler(
        settings=settings, session_factory=session_factory, bus=InProcessEventBus(),
        commander=stations, clock=lambda: clock[0],
    )  # fmt: skip
    await loop.recompute()
    assert loop.solved_sites == {site_a: 1, site_b: 1}
    clock[0] = NOW + timedelta(minutes=1)
    await loop.recompute()
    assert loop.solved_sites == {}  # nothing changed anywhere
    async with session_factory() as db:
        session = (
            await db.exec(select(ChargingSession).where(ChargingSession.station_id == "TIMB-0"))
        ).one()
        session.energy_wh = 2_000  # a meter value arrived on site B
        db.add(session)
        await db.commit()
    stations.sent.clear()
    clock[0] = NOW + timedelta(minutes=2)
    await loop.recompute()
    assert loop.solved_sites == {site_b: 1}
    assert stations.stations() <= {"TIMB-0", "TIMB-1"}


async def test_a_refused_station_max_profile_is_sent_again_on_the_next_pass(
    settings: Settings, session_factory: SessionFactory
) -> None:
    await make_site(session_factory, "REF", charging=0)

    class RefusingOnce(Stations):
        refused = False

        async def send(
            self, station_id: str, command: StationCommand, *, timeout_s: float | None = None
        ) -> CommandOutcome:
            outcome = await super().send(station_id, command, timeout_s=timeout_s)
            if isinstance(command, SetChargingLimit) and command.station_max and not self.refused:
                self.refused = True
                return CommandOutcome(CommandStatus.REJECTED, {"status": "Rejected"})
            return outcome

    stations = RefusingOnce()
    loop = LoadScheduler(
        settings=settings, session_factory=session_factory, bus=InProcessEventBus(),
        commander=stations, clock=lambda: NOW,
    )  # fmt: skip
    await loop.recompute()
    assert set(loop.profiles.station_max) == {"REF-1"}  # REF-0 refused its cap
    # Retried on the next timed pass, not at once: a station that never takes a station-max
    # profile must not spin the scheduler.
    assert not loop._dirty.is_set()
    stations.sent.clear()
    await loop.recompute()  # nothing changed, but the site's last pass was not complete
    assert [(s, c.station_max) for s, c in stations.sent] == [("REF-0", True)]
    assert set(loop.profiles.station_max) == {"REF-0", "REF-1"}
    stations.sent.clear()
    await loop.recompute()
    assert stations.sent == []  # complete now: the unchanged site is skipped
