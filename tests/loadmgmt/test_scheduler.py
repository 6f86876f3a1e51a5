"""The scheduler against a real database: default profiles, offline stations counted at their
safe default, refused profiles pinned, only moved limits re-sent."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from app.db.engine import SessionFactory
from app.db.models import CapacityNode, ChargingSession, Evse, EvseAllocation
from app.db.models.capacity import CapacityNodeKind, PhaseWiring
from app.domain.commands import CommandOutcome, CommandStatus, SetChargingLimit, StationCommand
from app.domain.errors import StationNotConnected
from app.events import InProcessEventBus
from app.loadmgmt.scheduler import LoadScheduler
from app.services.capacity import create_node
from app.services.capacity_tree import update_node
from app.settings import Settings
from tests.factories import make_location, make_station

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class Stations:
    """The StationCommander port as the scheduler sees it: who is online, which EVSEs refuse
    their TxProfiles."""

    def __init__(self, online: set[str], refuse: set[tuple[str, int]] | None = None) -> None:
        self.online = online
        self.refuse = refuse or set()
        self.sent: list[tuple[str, SetChargingLimit]] = []

    def is_connected(self, station_id: str) -> bool:
        return station_id in self.online

    async def send(
        self, station_id: str, command: StationCommand, *, timeout_s: float | None = None
    ) -> CommandOutcome:
        if station_id not in self.online:
            raise StationNotConnected(station_id)
        assert isinstance(command, SetChargingLimit)
        self.sent.append((station_id, command))
        if command.transaction_id and (station_id, command.ocpp_evse_id) in self.refuse:
            return CommandOutcome(CommandStatus.REJECTED, {"status": "Rejected"})
        return CommandOutcome(CommandStatus.ACCEPTED, {"status": "Accepted"})

    def tx(self) -> dict[tuple[str, int], float]:
        return {(s, c.ocpp_evse_id): c.limit_a or 0.0 for s, c in self.sent if c.transaction_id}


async def site(factory: SessionFactory, stations: int) -> list[Evse]:
    """A 32 A circuit with `stations` one-EVSE three-phase stations, each with a session."""
    location = await make_location(factory)
    circuit = await create_node(
        session_factory=factory, name="circuit", kind=CapacityNodeKind.CIRCUIT,
        location_id=location.id, limit_a=32.0,
    )  # fmt: skip
    for n in range(stations):
        await make_station(factory, station_id=f"SCH-{n}", location=location)
    async with factory() as db:
        evses = list((await db.exec(select(Evse).order_by(col(Evse.station_id)))).all())
        for n, evse in enumerate(evses):
            assert evse.id is not None
            db.add(
                ChargingSession(
                    station_id=evse.station_id, evse_id=evse.id, transaction_id=str(100 + n),
                    started_at=NOW - timedelta(minutes=5), requested_energy_wh=30_000,
                )
            )  # fmt: skip
        await db.commit()
    for evse in evses:
        await create_node(
            session_factory=factory, name=evse.uid, kind=CapacityNodeKind.EVSE,
            parent_id=circuit.id, evse_id=evse.id, phases=PhaseWiring.L1L2L3,
        )  # fmt: skip
    return evses


def scheduler(settings: Settings, factory: SessionFactory, stations: Stations) -> LoadScheduler:
    return LoadScheduler(
        settings=settings, session_factory=factory, bus=InProcessEventBus(),
        commander=stations, clock=lambda: NOW,
    )  # fmt: skip


async def test_an_offline_station_is_counted_at_its_safe_default(
    settings: Settings, session_factory: SessionFactory
) -> None:
    await site(session_factory, 3)
    stations = Stations(online={"SCH-0", "SCH-1"})
    await scheduler(settings, session_factory, stations).recompute()
    defaults = {
        (s, c.ocpp_evse_id): c.limit_a
        for s, c in stations.sent
        if not c.transaction_id and not c.station_max
    }
    assert defaults == {("SCH-0", 1): 10.6, ("SCH-1", 1): 10.6}  # SCH-2 cannot be reached
    maxima = {(s, c.ocpp_evse_id): c.limit_a for s, c in stations.sent if c.station_max}
    assert maxima == {("SCH-0", 0): 32.0, ("SCH-1", 0): 32.0}  # alone, each may have it all
    tx = stations.tx()
    assert set(tx) == {("SCH-0", 1), ("SCH-1", 1)}
    assert sum(tx.values()) <= 32.0 - 10.6  # room left for the offline one at its default
    async with session_factory() as db:
        rows = {a.status for a in (await db.exec(select(EvseAllocation))).all()}
    assert rows == {"ACCEPTED", "OFFLINE"}


async def test_only_limits_that_moved_are_sent_again(
    settings: Settings, session_factory: SessionFactory
) -> None:
    await site(session_factory, 2)
    stations = Stations(online={"SCH-0", "SCH-1"})
    loop = scheduler(settings, session_factory, stations)
    await loop.recompute()
    first = len(stations.sent)
    assert first == 6  # two station maxima, two defaults, two TxProfiles
    await loop.recompute()
    assert len(stations.sent) == first  # nothing moved by 1 A or more


@pytest.mark.parametrize("refused", [("SCH-0", 1)], ids=["tx-profile-rejected"])
async def test_a_refused_profile_pins_the_evse_at_what_it_last_accepted(
    settings: Settings, session_factory: SessionFactory, refused: tuple[str, int]
) -> None:
    await site(session_factory, 2)
    stations = Stations(online={"SCH-0", "SCH-1"}, refuse={refused})
    loop = scheduler(settings, session_factory, stations)
    await loop.recompute()
    async with session_factory() as db:
        statuses = sorted(a.status for a in (await db.exec(select(EvseAllocation))).all())
    assert statuses == ["ACCEPTED", "REJECTED"]
    stations.sent.clear()
    await loop.recompute()
    # SCH-0 keeps drawing its 10.6 A default: SCH-1 may have the rest, not more.
    assert all(s != "SCH-0" for s, _ in stations.sent)
    assert loop.profiles.refused
    tx = [c.limit_a or 0.0 for s, c in stations.sent if s == "SCH-1"]
    assert all(limit <= 32.0 - 10.6 for limit in tx)


async def test_a_higher_priority_evse_is_served_first(
    settings: Settings, session_factory: SessionFactory
) -> None:
    evses = await site(session_factory, 2)
    stations = Stations(online={"SCH-0", "SCH-1"})
    await scheduler(settings, session_factory, stations).recompute()
    plain = stations.tx()
    assert plain[("SCH-0", 1)] > plain[("SCH-1", 1)]  # equal demands: the first session leads
    async with session_factory() as db:
        leaf = (
            await db.exec(select(CapacityNode).where(CapacityNode.evse_id == evses[1].id))
        ).one()
    assert leaf.id is not None
    await update_node(
        session_factory=session_factory, bus=InProcessEventBus(), node_id=leaf.id,
        changes={"priority": 5},
    )  # fmt: skip
    stations = Stations(online={"SCH-0", "SCH-1"})
    await scheduler(settings, session_factory, stations).recompute()
    ranked = stations.tx()
    assert ranked[("SCH-1", 1)] > ranked[("SCH-0", 1)]
    assert sum(ranked.values()) <= 32.0
