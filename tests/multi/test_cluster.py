"""Three chargenet processes on one PostgreSQL and one Redis act as one system: commands cross
instances, events reach subscribers on any, a charger may move between them, and when the
leader dies (SIGKILL) another takes over the scheduler, whose profiles reach the charger
through Redis."""

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
import pytest_asyncio
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport
from redis.asyncio import Redis

from app.db.engine import SessionFactory
from app.db.models import ChargingStation
from app.db.models.capacity import CapacityNodeKind, PhaseWiring
from app.services.auth import TokenService
from app.services.capacity import create_node
from app.simulator import SimulatedStation
from tests.factories import make_location
from tests.graphql.conftest import global_id
from tests.multi.cluster import Instance, cluster
from tests.multi.helpers import (
    charger,
    counts,
    online,
    outcome,
    provision,
    requested_start,
    start,
)
from tests.reservation_builders import bearer, make_driver

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

NAMES = ("A", "B", "C")  # started together: any one of them may win the election
WATCH = """
subscription W($ids: [ID!]!) { evseStatusChanged(locationIds: $ids) { stationIdentity status } }
"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def nodes(
    env: dict[str, str], db: SessionFactory
) -> AsyncIterator[Callable[[str], Instance]]:
    async with cluster(NAMES, env) as node:
        yield node


async def test_a_start_sent_to_b_starts_the_charger_on_a_and_the_result_arrives_on_b(
    nodes: Callable[[str], Instance], db: SessionFactory, tokens: TokenService
) -> None:
    a, b = nodes("A"), nodes("B")
    evse_id = await provision(db, "XS-0001")
    driver_id, app_token = await make_driver(db)
    headers = bearer(tokens, driver_id)
    async with online(charger(a, "XS-0001")) as station:
        payload = await start(b, headers, evse_id, "cross-1")
        request = await requested_start(station)  # forwarded by B to A, sent on A's socket
        assert request.token == app_token
        results = asyncio.create_task(outcome(b, headers, payload["commandId"]))
        await station.start_transaction(1, request.token, remote_start_id=request.remote_start_id)
        seen = await results
    assert seen[-1] == "ACCEPTED"
    assert seen.count("ACCEPTED") == 1
    starts = [action for action, _ in station.received if action.endswith("StartTransaction")]
    assert len(starts) == 1
    assert await counts(db, "XS-0001") == (1, 1)


async def test_a_subscriber_on_b_sees_the_status_of_a_charger_on_a(
    nodes: Callable[[str], Instance], db: SessionFactory, redis: Redis, redis_prefix: str
) -> None:
    a, b = nodes("A"), nodes("B")
    location = await make_location(db)
    assert location.id is not None
    await provision(db, "XV-0001", location=location)
    channel = f"{redis_prefix}events:location.{location.id}.evse-status"
    transport = WebsocketsTransport(url=f"{b.ws_url}/graphql", close_timeout=2)
    ids = [global_id("Location", location.id)]
    async with (
        online(charger(a, "XV-0001")) as station,
        asyncio.timeout(15),
        Client(transport=transport) as session,
    ):
        stream = session.subscribe(GraphQLRequest(WATCH, variable_values={"ids": ids}))
        first = asyncio.ensure_future(anext(stream))
        # B's subscription is live once B subscribed the channel on Redis. It lives in another
        # process: Redis's subscriber count is the one thing to watch (bounded by the timeout).
        while (await redis.pubsub_numsub(channel))[0][1] == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        await station.send_status(1, "Occupied")
        event = await first
        await station.send_status(1, "Available")
        following = await anext(stream)
    assert event["evseStatusChanged"] == {"stationIdentity": "XV-0001", "status": "CHARGING"}
    # The next event is the next change: the first was delivered once, not once per instance.
    assert following["evseStatusChanged"] == {"stationIdentity": "XV-0001", "status": "AVAILABLE"}


async def test_a_second_connection_on_b_replaces_the_one_on_a_and_commands_via_a_reach_it(
    nodes: Callable[[str], Instance], db: SessionFactory, tokens: TokenService
) -> None:
    a, b = nodes("A"), nodes("B")
    evse_id = await provision(db, "XD-0001")
    driver_id, _ = await make_driver(db)
    headers = bearer(tokens, driver_id)
    async with online(charger(a, "XD-0001")) as old, online(charger(b, "XD-0001")) as new:
        async with asyncio.timeout(10):
            await old.wait_closed()  # A closed its socket when B took the station
        payload = await start(a, headers, evse_id, "dup-1")
        request = await requested_start(new)  # A forwarded to B, B sent on the new socket
        results = asyncio.create_task(outcome(a, headers, payload["commandId"]))
        await new.start_transaction(1, request.token, remote_start_id=request.remote_start_id)
        assert (await results)[-1] == "ACCEPTED"
        async with db() as session:
            row = await session.get(ChargingStation, "XD-0001")
        assert row is not None
        assert row.online  # A did not record a disconnection for the socket it closed
    assert not old.evses[1].start_requests
    assert await counts(db, "XD-0001") == (1, 1)


async def test_a_charger_that_reconnects_from_a_to_b_still_gets_commands_sent_to_a(
    nodes: Callable[[str], Instance], db: SessionFactory, tokens: TokenService
) -> None:
    a, b = nodes("A"), nodes("B")
    evse_id = await provision(db, "XR-0001")
    driver_id, _ = await make_driver(db)
    headers = bearer(tokens, driver_id)
    station = charger(a, "XR-0001")
    async with online(station):
        pass
    station.url = f"{b.ws_url}/ocpp/XR-0001"
    async with online(station):
        payload = await start(a, headers, evse_id, "moved-1")
        request = await requested_start(station)
        results = asyncio.create_task(outcome(b, headers, payload["commandId"]))
        await station.start_transaction(1, request.token, remote_start_id=request.remote_start_id)
        assert (await results)[-1] == "ACCEPTED"
    assert await counts(db, "XR-0001") == (1, 1)


class Profiles:
    """The SetChargingProfile CALLs a simulated 1.6 charger received, as they arrive. A leader
    sends a station-wide max profile and a default profile; `purposes` lists them in order."""

    def __init__(self, station: SimulatedStation) -> None:
        self.arrived: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.purposes: list[str] = []
        record = station.answered

        def answered(action: str, payload: dict[str, Any]) -> None:
            record(action, payload)
            if action == "SetChargingProfile":
                self.purposes.append(payload["cs_charging_profiles"]["charging_profile_purpose"])
                self.arrived.put_nowait(payload)

        station.answered = answered  # type: ignore[method-assign]

    async def next(self, purpose: str) -> dict[str, Any]:
        """The next profile of `purpose` (others are only counted in `purposes`)."""
        async with asyncio.timeout(20):
            while True:
                payload = await self.arrived.get()
                if payload["cs_charging_profiles"]["charging_profile_purpose"] == purpose:
                    return payload


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
    """Last in this module: it kills an instance."""
    everyone = [nodes(name) for name in NAMES]
    flags = await leader_flags(*everyone)
    assert sorted(flags) == [False, False, True]
    leader = everyone[flags.index(True)]
    holder, third = (i for i in everyone if i is not leader)
    await managed_site(db, "XF-0001")
    station = charger(holder, "XF-0001", protocol="1.6")
    profiles = Profiles(station)
    async with online(station):
        # The leader's scheduler sends the safe default profile to a socket another holds.
        first = await profiles.next("TxDefaultProfile")
        marks = {i.name: len(i.lines) for i in (holder, third)}
        leader.kill()
        # A follower takes the lock once PostgreSQL ends the dead leader's session; its new
        # scheduler starts from nothing and sends the default profile again.
        second = await profiles.next("TxDefaultProfile")
        assert second["cs_charging_profiles"] == first["cs_charging_profiles"]
        flags = await leader_flags(holder, third)
        assert sorted(flags) == [False, True]
        new = holder if flags[0] else third
        await new.wait_for_line(f"instance {new.name} is the leader", after=marks[new.name])
        # One leader at a time, one default profile each: nobody sent it twice.
        assert profiles.purposes.count("TxDefaultProfile") == 2, profiles.purposes
