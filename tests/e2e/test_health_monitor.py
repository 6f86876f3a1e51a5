"""Serviceability end to end: simulated chargers against a live server, an operator watching
`alertRaised` over a real WebSocket, the health monitor driven by an injected clock."""

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport
from sqlmodel import col, select

from app.db.models import ChargingStation, StationConnectivityInterval
from app.domain.access import OperatorRole
from app.monitoring.health import HealthMonitor
from app.services.alerts import ALERTS_TOPIC
from app.settings import Settings
from app.simulator import SimulationConfig, create_station
from tests.access_builders import make_operator_user, operator_bearer, own_network
from tests.conftest import LiveServer
from tests.factories import make_location, make_station

pytestmark = pytest.mark.e2e

PASSWORD = "station-password-0001"
ALERT_RAISED = """
    subscription { alertRaised { code severity state stationIdentity evseUid count } }
"""
ALERTS = """
    query($filter: AlertFilter) {
      alerts(filter: $filter) { edges { node { code state resolvedAt resolvedBy evseUid } } }
    }
"""


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        ocpp_call_timeout_s=5.0,
        ocpp_heartbeat_interval_s=60,
        health_check_interval_s=3600,  # the test runs the passes itself
        health_offline_alert_after_s=0,
    )


def charger_config(server: LiveServer, protocol: str) -> SimulationConfig:
    return SimulationConfig(
        url=f"{server.ws_url}/ocpp", stations=1, protocol=protocol, password=PASSWORD,
        station_prefix="HEALTH", evses_per_station=1, time_scale=3600,
    )  # fmt: skip


_operators: dict[int, tuple[int, dict[str, str]]] = {}
"""The operator of each test's live server; emptied around every test (ids are reused)."""


@pytest.fixture(autouse=True)
def _fresh_operators() -> Iterator[None]:
    _operators.clear()
    yield
    _operators.clear()


async def operator_of_network(server: LiveServer) -> dict[str, str]:
    """A viewer of the organisation that owns the test's network (every station built so far
    is given to it on each call)."""
    runtime = server.runtime
    if id(server) not in _operators:
        user = await make_operator_user(runtime.session_factory, role=OperatorRole.VIEWER)
        _operators[id(server)] = (user.operator_id, operator_bearer(runtime.tokens, user))
    operator_id, headers = _operators[id(server)]
    await own_network(runtime.session_factory, operator_id)
    return headers


async def graphql(server: LiveServer, query: str, **variables: Any) -> dict[str, Any]:
    headers = await operator_of_network(server)
    async with httpx.AsyncClient(base_url=server.http_url, headers=headers) as http:
        response = await http.post("/graphql", json={"query": query, "variables": variables})
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def open_alert_stream(
    server: LiveServer, subscribed: asyncio.Queue[set[str]], stack: Any
) -> asyncio.Queue[dict[str, Any]]:
    """An operator's `alertRaised` subscription, listening once this returns."""
    headers = await operator_of_network(server)
    transport = WebsocketsTransport(url=f"{server.ws_url}/graphql", init_payload=headers)
    client = await stack.enter_async_context(Client(transport=transport))
    received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def listen() -> None:
        async for result in client.subscribe(GraphQLRequest(ALERT_RAISED)):
            received.put_nowait(result["alertRaised"])

    listener = asyncio.create_task(listen())
    stack.push_async_callback(_cancel, listener)
    async with asyncio.timeout(10):
        opened = asyncio.create_task(subscribed.get())
        await asyncio.wait([opened, listener], return_when=asyncio.FIRST_COMPLETED)
        assert not listener.done(), listener.exception()
        assert opened.result() == {ALERTS_TOPIC}
    return received


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


@pytest.fixture
async def stack() -> AsyncIterator[Any]:
    from contextlib import AsyncExitStack

    async with AsyncExitStack() as exit_stack:
        yield exit_stack


@pytest.mark.parametrize("protocol", ["1.6", "2.0.1"], ids=["ocpp16", "ocpp201"])
async def test_a_silent_charger_goes_offline_and_an_operator_is_alerted(
    live_server: LiveServer, subscribed: asyncio.Queue[set[str]], stack: Any, protocol: str
) -> None:
    factory = live_server.runtime.session_factory
    location = await make_location(factory, name="Health")
    await make_station(factory, station_id="HEALTH-0001", password=PASSWORD, location=location)
    received = await open_alert_stream(live_server, subscribed, stack)
    monitor: HealthMonitor = live_server.app.state.health
    charger = create_station(charger_config(live_server, protocol), 0)
    async with charger.connect():
        assert await charger.boot() == "Accepted"
        booted = datetime.now(UTC)
        # One heartbeat interval later the station still counts as online.
        monitor.clock = lambda: booted + timedelta(seconds=60)
        await monitor.run_once()
        assert received.empty()
        # Two intervals of silence, socket still open: offline, and the operator hears of it.
        monitor.clock = lambda: booted + timedelta(seconds=121)
        await monitor.run_once()
        async with asyncio.timeout(10):
            alert = await received.get()
        assert alert == {
            "code": "STATION_OFFLINE", "severity": "CRITICAL", "state": "OPEN",
            "stationIdentity": "HEALTH-0001", "evseUid": None, "count": 1,
        }  # fmt: skip
        async with factory() as db:
            station = await db.get(ChargingStation, "HEALTH-0001")
            assert station is not None
            assert station.online is False
            intervals = (
                await db.exec(
                    select(StationConnectivityInterval).order_by(
                        col(StationConnectivityInterval.id)
                    )
                )
            ).all()
        assert [(i.online, i.reason) for i in intervals][-1] == (False, "HEARTBEAT_TIMEOUT")
        assert intervals[-1].ended_at is None

        # It heartbeats again: online, and the next pass resolves the alert by itself.
        await charger.heartbeat()
        monitor.clock = lambda: datetime.now(UTC)
        await monitor.run_once()
    data = await graphql(live_server, ALERTS, filter={"codes": ["STATION_OFFLINE"]})
    [edge] = data["alerts"]["edges"]
    assert edge["node"]["state"] == "RESOLVED"
    assert edge["node"]["resolvedBy"] is None


@pytest.mark.parametrize("protocol", ["1.6", "2.0.1"], ids=["ocpp16", "ocpp201"])
async def test_a_faulted_evse_raises_an_alert_that_clears_when_it_is_available(
    live_server: LiveServer, subscribed: asyncio.Queue[set[str]], stack: Any, protocol: str
) -> None:
    factory = live_server.runtime.session_factory
    await make_station(factory, station_id="HEALTH-0001", password=PASSWORD)
    received = await open_alert_stream(live_server, subscribed, stack)
    charger = create_station(charger_config(live_server, protocol), 0)
    async with charger.connect():
        assert await charger.boot() == "Accepted"
        await charger.send_status(1, "Available")
        await charger.send_status(1, "Faulted")
        async with asyncio.timeout(10):
            alert = await received.get()
        assert (alert["code"], alert["severity"], alert["evseUid"]) == (
            "FAULTED", "MAJOR", "HEALTH-0001*1",
        )  # fmt: skip
        data = await graphql(live_server, ALERTS, filter={"states": ["OPEN"]})
        assert [e["node"]["code"] for e in data["alerts"]["edges"]] == ["FAULTED"]
        await charger.send_status(1, "Available")
    data = await graphql(live_server, ALERTS)
    [edge] = data["alerts"]["edges"]
    assert edge["node"]["state"] == "RESOLVED"
    assert edge["node"]["resolvedAt"] is not None
    assert edge["node"]["resolvedBy"] is None  # cleared by the charger, not by a person
    assert received.empty()


async def test_metrics_count_the_traffic(live_server: LiveServer) -> None:
    await make_station(
        live_server.runtime.session_factory, station_id="HEALTH-0001", password=PASSWORD
    )
    charger = create_station(charger_config(live_server, "1.6"), 0)
    async with charger.connect(), httpx.AsyncClient(base_url=live_server.http_url) as http:
        assert await charger.boot() == "Accepted"
        await charger.send_status(1, "Faulted")
        text = (await http.get("/metrics")).text
    assert "chargenet_stations_connected 1.0" in text
    assert (
        'chargenet_ocpp_messages_total{action="BootNotification",direction="INBOUND",'
        'result="CALL"} 1.0' in text
    )
    assert (
        'chargenet_ocpp_messages_total{action="StatusNotification",direction="OUTBOUND",'
        'result="CALLRESULT"} 1.0' in text
    )
    assert 'chargenet_alerts_open{severity="MAJOR"} 1.0' in text
    assert "chargenet_graphql_subscriptions_active 0.0" in text


async def test_a_station_that_talks_without_heartbeats_stays_online(
    live_server: LiveServer,
) -> None:
    factory = live_server.runtime.session_factory
    await make_station(factory, station_id="HEALTH-0001", password=PASSWORD)
    monitor: HealthMonitor = live_server.app.state.health
    log = live_server.runtime.ocpp.message_log
    charger = create_station(charger_config(live_server, "2.0.1"), 0)
    async with charger.connect():
        assert await charger.boot() == "Accepted"
        await log.flush()
        # As if it booted ten minutes ago and never heartbeated since (2.0.1 allows a station
        # busy with other messages to skip heartbeats).
        long_ago = datetime.now(UTC) - timedelta(minutes=10)
        async with factory() as db:
            station = await db.get(ChargingStation, "HEALTH-0001")
            assert station is not None
            station.last_boot_at = station.last_heartbeat_at = long_ago
            station.connected_at = station.last_message_at = long_ago
            db.add(station)
            await db.commit()
        await charger.send_status(1, "Available")
        await charger.send_status(1, "Occupied")
        await log.flush()
        async with factory() as db:
            station = await db.get(ChargingStation, "HEALTH-0001")
            assert station is not None
            assert station.last_message_at is not None
            last_message = station.last_message_at
        assert last_message > long_ago

        # 90 s after its last message (ten minutes after its last heartbeat): online.
        monitor.clock = lambda: last_message + timedelta(seconds=90)
        await monitor.run_once()
        assert await is_online(live_server, "HEALTH-0001") is True
        # Then nothing at all for two heartbeat intervals (its last message moved back in
        # time rather than the monitor forward, so what follows happens after): offline.
        async with factory() as db:
            station = await db.get(ChargingStation, "HEALTH-0001")
            assert station is not None
            station.last_message_at = datetime.now(UTC) - timedelta(seconds=121)
            db.add(station)
            await db.commit()
        monitor.clock = lambda: datetime.now(UTC)
        await monitor.run_once()
        assert await is_online(live_server, "HEALTH-0001") is False

        # It speaks again, still without a heartbeat: the next pass finds it online.
        await charger.send_status(1, "Available")
        await log.flush()
        await monitor.run_once()
        assert await is_online(live_server, "HEALTH-0001") is True
        async with factory() as db:
            intervals = (
                await db.exec(
                    select(StationConnectivityInterval).order_by(
                        col(StationConnectivityInterval.id)
                    )
                )
            ).all()
    assert [(i.online, i.reason) for i in intervals] == [
        (True, "CONNECTED"), (False, "HEARTBEAT_TIMEOUT"), (True, "MESSAGE"),
    ]  # fmt: skip


async def is_online(server: LiveServer, station_id: str) -> bool:
    async with server.runtime.session_factory() as db:
        station = await db.get(ChargingStation, station_id)
    assert station is not None
    return station.online
