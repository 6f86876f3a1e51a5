"""WebSocket limits over a real socket: connection_init timeout, operations per connection."""

import asyncio
import json
from typing import Any

import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from app.db.engine import SessionFactory
from app.settings import Settings
from tests.conftest import LiveServer
from tests.factories import make_location
from tests.graphql.conftest import global_id

pytestmark = pytest.mark.e2e

MAX_SUBSCRIPTIONS = 3
WATCH = "subscription W($ids: [ID!]!) { evseStatusChanged(locationIds: $ids) { evseUid } }"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "graphql_max_subscriptions_per_connection": MAX_SUBSCRIPTIONS,
            "graphql_connection_init_timeout_s": 0.3,
        }
    )


async def receive(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(10):
        message: dict[str, Any] = json.loads(await ws.recv())
    return message


async def test_a_socket_that_never_sends_connection_init_is_closed(
    live_server: LiveServer,
) -> None:
    async with websockets.connect(
        f"{live_server.ws_url}/graphql", subprotocols=["graphql-transport-ws"]
    ) as ws:  # type: ignore[list-item]
        with pytest.raises(websockets.ConnectionClosed):
            await receive(ws)
    assert ws.close_code == 4408
    assert ws.close_reason == "Connection initialisation timeout"


async def test_operations_per_connection_are_capped(
    live_server: LiveServer,
    session_factory: SessionFactory,
    subscribed: asyncio.Queue[set[str]],
) -> None:
    location = await make_location(session_factory)
    ids = [global_id("Location", location.id)]
    async with websockets.connect(
        f"{live_server.ws_url}/graphql", subprotocols=["graphql-transport-ws"]
    ) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert (await receive(ws))["type"] == "connection_ack"
        for n in range(MAX_SUBSCRIPTIONS):
            payload = {"query": WATCH, "variables": {"ids": ids}}
            await ws.send(json.dumps({"id": str(n), "type": "subscribe", "payload": payload}))
            async with asyncio.timeout(10):
                await subscribed.get()  # the subscription is live on the bus
        refused = {"query": WATCH, "variables": {"ids": ids}}
        await ws.send(json.dumps({"id": "over", "type": "subscribe", "payload": refused}))
        assert await receive(ws) == {
            "id": "over",
            "type": "error",
            "payload": [{"message": "Subscription limit reached"}],
        }
        # Ending one makes room for another on the same connection.
        await ws.send(json.dumps({"id": "0", "type": "complete"}))
        await ws.send(json.dumps({"id": "again", "type": "subscribe", "payload": refused}))
        async with asyncio.timeout(10):
            await subscribed.get()
