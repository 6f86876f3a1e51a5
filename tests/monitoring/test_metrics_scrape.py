"""`/metrics` parsed with prometheus_client's own text parser after real traffic: every metric
the serviceability issue names exists and moves (connections, messages by action and result,
CALLERRORs, command latency, open alerts, live subscriptions)."""

import asyncio
import json
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from app.db.engine import SessionFactory
from app.domain.access import OperatorRole
from app.domain.commands import CommandStatus, Reset, TriggerMessage
from app.monitoring.metrics import Metrics
from app.ocpp.message_log import MessageLogWriter
from app.services.alerts import ALERTS_TOPIC
from tests.access_builders import make_operator_user, operator_bearer, own_network
from tests.conftest import LiveServer
from tests.factories import make_station
from tests.ocpp.clients import BOOT16, exchange, raw_socket

pytestmark = pytest.mark.e2e

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
FAULTED = json.dumps(
    [2, "s-1", "StatusNotification",
     {"connectorId": 1, "errorCode": "GroundFailure", "status": "Faulted"}]
)  # fmt: skip


async def scrape(server: LiveServer) -> Samples:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def answer_next_call(websocket: Any, reply: list[Any]) -> str:
    """Read chargenet's next CALL and answer it with `reply` (its unique id put in)."""
    async with asyncio.timeout(10):
        call = json.loads(await websocket.recv())
    assert call[0] == 2
    await websocket.send(json.dumps([reply[0], call[1], *reply[1:]]))
    return str(call[2])


async def test_every_named_metric_exists_and_moves(
    live_server: LiveServer, subscribed: asyncio.Queue[set[str]]
) -> None:
    runtime = live_server.runtime
    await make_station(runtime.session_factory, station_id="MX-1")
    viewer = await make_operator_user(runtime.session_factory, role=OperatorRole.VIEWER)
    await own_network(runtime.session_factory, viewer.operator_id)
    before = await scrape(live_server)

    async with AsyncExitStack() as stack:
        transport = WebsocketsTransport(
            url=f"{live_server.ws_url}/graphql",
            init_payload=operator_bearer(runtime.tokens, viewer),
        )
        client = await stack.enter_async_context(Client(transport=transport))
        stream = client.subscribe(GraphQLRequest("subscription { alertRaised { code } }"))
        listener = asyncio.create_task(anext(stream))
        async with asyncio.timeout(10):
            assert await subscribed.get() == {ALERTS_TOPIC}
        websocket = await stack.enter_async_context(raw_socket(live_server, "MX-1"))
        assert (await exchange(websocket, BOOT16))[0] == 3
        assert (await exchange(websocket, '[2, "x-1", "FlyToTheMoon", {}]'))[2] == "NotImplemented"
        assert (await exchange(websocket, FAULTED))[0] == 3
        async with asyncio.timeout(10):
            assert (await listener)["alertRaised"]["code"] == "GroundFailure"

        # Two commands: one answered, one refused with a CALLERROR.
        reset = asyncio.create_task(runtime.registry.send("MX-1", Reset(hard=False)))
        assert await answer_next_call(websocket, [3, {"status": "Accepted"}]) == "Reset"
        trigger = asyncio.create_task(
            runtime.registry.send("MX-1", TriggerMessage(message="Heartbeat"))
        )
        refused = [4, "NotSupported", "not here", {}]
        assert await answer_next_call(websocket, refused) == "TriggerMessage"
        async with asyncio.timeout(10):
            assert (await reset).status == CommandStatus.ACCEPTED
            await trigger
        during = await scrape(live_server)
        await stream.aclose()

    connected = "chargenet_stations_connected"
    assert (value(before, connected), value(during, connected)) == (0, 1)
    messages = "chargenet_ocpp_messages_total"
    for direction, action, result in [
        ("INBOUND", "BootNotification", "CALL"), ("OUTBOUND", "BootNotification", "CALLRESULT"),
        ("INBOUND", "StatusNotification", "CALL"), ("OUTBOUND", "Reset", "CALL"),
        ("INBOUND", "Reset", "CALLRESULT"), ("INBOUND", "TriggerMessage", "CALLERROR"),
        ("OUTBOUND", "FlyToTheMoon", "CALLERROR"),
    ]:  # fmt: skip
        labels = {"direction": direction, "action": action, "result": result}
        assert value(during, messages, **labels) == value(before, messages, **labels) + 1, labels
    errors = "chargenet_ocpp_callerrors_total"
    for direction, action, code in [
        ("OUTBOUND", "FlyToTheMoon", "NotImplemented"),
        ("INBOUND", "TriggerMessage", "NotSupported"),
    ]:
        labels = {"direction": direction, "action": action, "error_code": code}
        assert value(during, errors, **labels) == value(before, errors, **labels) + 1, labels
    latency = "chargenet_ocpp_command_latency_seconds_count"
    for action in ("Reset", "TriggerMessage"):
        assert value(during, latency, action=action) == value(before, latency, action=action) + 1
    assert value(during, "chargenet_ocpp_command_latency_seconds_sum", action="Reset") > 0
    alerts = "chargenet_alerts_open"
    assert (value(before, alerts, severity="MAJOR"), value(during, alerts, severity="MAJOR")) == (
        0, 1,
    )  # fmt: skip
    subscriptions = "chargenet_graphql_subscriptions_active"
    assert (value(before, subscriptions), value(during, subscriptions)) == (0, 1)
    # The app wires the message log writer's own counts into /metrics (app/main.py).
    for name in (
        "chargenet_ocpp_message_log_written_total",
        "chargenet_ocpp_message_log_dropped_total",
    ):
        assert (name, frozenset()) in during, name
    assert value(during, "chargenet_ocpp_message_log_dropped_total") == 0


async def test_the_message_log_writer_counts_are_counters(session_factory: SessionFactory) -> None:
    writer = MessageLogWriter(session_factory=session_factory)
    metrics = Metrics(
        session_factory=session_factory,
        stations_connected=lambda: 0,
        active_subscriptions=lambda: 0,
        message_log=writer,
    )
    writer.written, writer.dropped = 12, 3
    samples: Samples = {}
    for family in text_string_to_metric_families(generate_latest(metrics.registry).decode()):
        assert family.type == "counter" or not family.name.startswith("chargenet_ocpp_message_log")
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    assert value(samples, "chargenet_ocpp_message_log_written_total") == 12
    assert value(samples, "chargenet_ocpp_message_log_dropped_total") == 3
