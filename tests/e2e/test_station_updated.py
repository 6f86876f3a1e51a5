"""End to end: an operator's network map over a real WebSocket (`stationUpdated`) follows a
simulated charger through connect, charging and disconnect; another organisation's operator
hears nothing of it, on `stationUpdated` or on `alertRaised`."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from typing import Any

import pytest
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport

from app.domain.access import OperatorRole
from app.domain.enums import EvseStatus
from app.services import availability
from app.services.alerts import ALERTS_TOPIC
from app.simulator import SimulationConfig, create_station, model
from tests.access_builders import make_operator_user, operator_bearer, own_network
from tests.conftest import LiveServer
from tests.factories import make_id_token, make_location, make_station
from tests.graphql.conftest import global_id

pytestmark = pytest.mark.e2e

PASSWORD = "station-password-0001"
STATION_UPDATED = """subscription($ids: [ID!]) { stationUpdated(locationIds: $ids) {
  identity online connectivityReason lastMessageAt powerW
  evses { evse { uid } status powerW activeSession { id energyWh powerW } } } }"""
ALERT_RAISED = "subscription { alertRaised { code stationIdentity } }"

Snapshot = dict[str, Any]


class SteppedClock:
    """The simulator's meter clock, moved by the test (the power it reports is then fixed)."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as exit_stack:
        yield exit_stack


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def listen(
    server: LiveServer, headers: dict[str, str], text: str, stack: AsyncExitStack, **variables: Any
) -> asyncio.Queue[Snapshot]:
    """A subscription's results, queued as they arrive over the WebSocket."""
    transport = WebsocketsTransport(url=f"{server.ws_url}/graphql", init_payload=headers)
    client = await stack.enter_async_context(Client(transport=transport))
    received: asyncio.Queue[Snapshot] = asyncio.Queue()

    async def pump() -> None:
        async for result in client.subscribe(GraphQLRequest(text, variable_values=variables)):
            received.put_nowait(next(iter(result.values())))

    stack.push_async_callback(_cancel, asyncio.create_task(pump()))
    return received


async def until(queue: asyncio.Queue[Snapshot], wanted: Callable[[Snapshot], bool]) -> Snapshot:
    """The first snapshot that matches, within a bound (earlier ones are intermediate states)."""
    async with asyncio.timeout(20):
        while not wanted(snapshot := await queue.get()):
            pass
    return snapshot


async def two_networks(server: LiveServer) -> tuple[dict[str, str], dict[str, str], str]:
    """Organisation A with MAP-0001 (a charger with a password), organisation B with B-0001;
    their viewers' headers and A's location id."""
    factory, tokens = server.runtime.session_factory, server.runtime.tokens
    location_a = await make_location(factory, name="A's site")
    await make_station(factory, station_id="MAP-0001", password=PASSWORD, location=location_a)
    viewer_a = await make_operator_user(factory, role=OperatorRole.VIEWER)
    await own_network(factory, viewer_a.operator_id)
    location_b = await make_location(factory, name="B's site")
    await make_station(factory, station_id="B-0001", password=None, location=location_b)
    viewer_b = await make_operator_user(factory, role=OperatorRole.VIEWER)
    await own_network(factory, viewer_b.operator_id)
    assert location_a.id is not None
    return (
        operator_bearer(tokens, viewer_a),
        operator_bearer(tokens, viewer_b),
        global_id("Location", location_a.id),
    )


def charger_config(server: LiveServer, protocol: str) -> SimulationConfig:
    return SimulationConfig(
        url=f"{server.ws_url}/ocpp", stations=1, protocol=protocol, password=PASSWORD,
        station_prefix="MAP", evses_per_station=1, time_scale=1, dc_every=0,
    )  # fmt: skip


async def fault_b(server: LiveServer) -> None:
    """A change at B's station, published by the service like a charger's would be."""
    await availability.record_status(
        session_factory=server.runtime.session_factory, bus=server.runtime.bus,
        station_id="B-0001", ocpp_evse_id=1, status=EvseStatus.OUTOFORDER,
        error_code="GroundFailure", at=datetime.now(UTC),
    )  # fmt: skip


@pytest.mark.parametrize("protocol", ["1.6", "2.0.1"], ids=["ocpp16", "ocpp201"])
async def test_the_map_follows_a_charger_and_another_organisation_sees_none_of_it(
    live_server: LiveServer, stack: AsyncExitStack, protocol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = SteppedClock()
    monkeypatch.setattr(model, "time", clock)
    as_a, as_b, location_a = await two_networks(live_server)
    await make_id_token(live_server.runtime.session_factory, uid="MAPCARD01")
    map_a = await listen(live_server, as_a, STATION_UPDATED, stack, ids=[location_a])
    map_b = await listen(live_server, as_b, STATION_UPDATED, stack, ids=None)
    async with asyncio.timeout(20):
        first_a, first_b = await map_a.get(), await map_b.get()
    # The current state first (listening already): never connected.
    assert (first_a["identity"], first_a["online"], first_a["connectivityReason"]) == (
        "MAP-0001", False, None,
    )  # fmt: skip
    assert first_a["evses"][0]["evse"] == {"uid": "MAP-0001*1"}
    assert first_b["identity"] == "B-0001"

    charger = create_station(charger_config(live_server, protocol), 0)
    async with charger.connect():
        assert await charger.boot() == "Accepted"
        online = await until(map_a, lambda s: s["online"] and s["lastMessageAt"] is not None)
        assert online["powerW"] == 0

        await charger.start_transaction(1, "MAPCARD01")
        charging = await until(map_a, lambda s: s["evses"][0]["activeSession"] is not None)
        session_id = charging["evses"][0]["activeSession"]["id"]
        clock.now += 60  # a minute of charging: the vehicle draws a steady power
        sample = await charger.send_meter_values(1)
        assert sample.power_w > 0
        drawn = await until(map_a, lambda s: s["powerW"] == sample.power_w)
        [evse] = drawn["evses"]
        assert evse["powerW"] == sample.power_w
        assert evse["activeSession"]["id"] == session_id
        assert evse["activeSession"]["powerW"] == sample.power_w

        await charger.stop_transaction(1)
        idle = await until(map_a, lambda s: s["evses"][0]["activeSession"] is None)
        assert (idle["powerW"], idle["evses"][0]["powerW"]) == (0, 0)
    gone = await until(map_a, lambda s: not s["online"])
    assert gone["connectivityReason"] == "DISCONNECTED"

    # B's map heard nothing of A's charger: the next thing it gets is B's own change.
    await fault_b(live_server)
    async with asyncio.timeout(20):
        after = await map_b.get()
    assert (after["identity"], after["evses"][0]["status"]) == ("B-0001", "OUTOFORDER")
    assert map_b.empty()


async def test_another_organisations_alerts_never_reach_an_operator(
    live_server: LiveServer, subscribed: asyncio.Queue[set[str]], stack: AsyncExitStack
) -> None:
    as_a, as_b, _ = await two_networks(live_server)
    alerts_a = await listen(live_server, as_a, ALERT_RAISED, stack)
    alerts_b = await listen(live_server, as_b, ALERT_RAISED, stack)
    async with asyncio.timeout(20):  # both listening on the bus before anything is raised
        assert [await subscribed.get(), await subscribed.get()] == [{ALERTS_TOPIC}] * 2
    charger = create_station(charger_config(live_server, "1.6"), 0)
    async with charger.connect():
        assert await charger.boot() == "Accepted"
        await charger.send_status(1, "Faulted")
        async with asyncio.timeout(20):
            alert_a = await alerts_a.get()
    assert (alert_a["code"], alert_a["stationIdentity"]) == ("FAULTED", "MAP-0001")
    # Published after A's on the same topic: had A's alert reached B, it would come first.
    await fault_b(live_server)
    async with asyncio.timeout(20):
        alert_b = await alerts_b.get()
    assert (alert_b["code"], alert_b["stationIdentity"]) == ("GroundFailure", "B-0001")
