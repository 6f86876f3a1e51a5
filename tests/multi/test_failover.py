"""The leader dies (SIGKILL): another instance takes the singletons within seconds and its
load-management scheduler sends the charging profiles, through Redis to the charger's instance."""

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio

from app.db.engine import SessionFactory
from app.db.models.capacity import CapacityNodeKind, PhaseWiring
from app.services.capacity import create_node
from app.simulator import SimulatedStation
from tests.factories import make_location
from tests.multi.cluster import Instance, cluster
from tests.multi.helpers import charger, online, provision

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def nodes(
    env: dict[str, str], db: SessionFactory
) -> AsyncIterator[Callable[[str], Instance]]:
    # One by one: A, alone at first, is the leader; C is a third instance, a follower too.
    async with cluster(["A", "B", "C"], env, one_by_one=True) as node:
        yield node


class Profiles:
    """The SetChargingProfile CALLs a simulated charger received, as they arrive."""

    def __init__(self, station: SimulatedStation) -> None:
        self.arrived: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        record = station.answered

        def answered(action: str, payload: dict[str, Any]) -> None:
            record(action, payload)
            if action == "SetChargingProfile":
                self.arrived.put_nowait(payload)

        station.answered = answered  # type: ignore[method-assign]

    async def next(self) -> dict[str, Any]:
        async with asyncio.timeout(20):
            return await self.arrived.get()


async def managed_site(db: SessionFactory, station_id: str) -> None:
    """Grid 63 A -> circuit 16 A -> the station -> its one three-phase EVSE."""
    location = await make_location(db)
    evse_id = await provision(db, station_id, location=location)
    grid = await create_node(
        session_factory=db, name="grid", kind=CapacityNodeKind.GRID,
        location_id=location.id, limit_a=63.0,
    )  # fmt: skip
    circuit = await create_node(
        session_factory=db, name="circuit", kind=CapacityNodeKind.CIRCUIT,
        parent_id=grid.id, limit_a=16.0,
    )  # fmt: skip
    station = await create_node(
        session_factory=db, name="station", kind=CapacityNodeKind.STATION,
        parent_id=circuit.id, station_id=station_id,
    )  # fmt: skip
    await create_node(
        session_factory=db, name="evse", kind=CapacityNodeKind.EVSE,
        parent_id=station.id, evse_id=evse_id, phases=PhaseWiring.L1L2L3,
    )  # fmt: skip


async def leader_flags(*instances: Instance) -> list[bool]:
    async with httpx.AsyncClient(timeout=10) as http:
        return [(await http.get(f"{i.http_url}/readyz")).json()["leader"] for i in instances]


async def test_killing_the_leader_hands_the_scheduler_to_another_instance(
    nodes: Callable[[str], Instance], db: SessionFactory
) -> None:
    a, b, c = nodes("A"), nodes("B"), nodes("C")
    assert await leader_flags(a, b, c) == [True, False, False]
    await managed_site(db, "XF-0001")
    station = charger(b, "XF-0001", protocol="1.6")
    profiles = Profiles(station)
    async with online(station):
        # A's scheduler sends the safe default profile; B holds the socket.
        first = await profiles.next()
        assert first["cs_charging_profiles"]["charging_profile_purpose"] == "TxDefaultProfile"
        marks = {i.name: len(i.lines) for i in (b, c)}
        a.kill()
        # B or C takes the lock once PostgreSQL ends A's session; its new scheduler starts
        # from nothing and sends the default profile again.
        second = await profiles.next()
        assert second["cs_charging_profiles"] == first["cs_charging_profiles"]
        flags = await leader_flags(b, c)
        assert sorted(flags) == [False, True]
        new = b if flags[0] else c
        await new.wait_for_line(f"instance {new.name} is the leader", after=marks[new.name])
        assert profiles.arrived.empty()  # one leader, one profile: nobody sent it twice
