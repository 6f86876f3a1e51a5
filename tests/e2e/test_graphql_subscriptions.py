"""evseStatusChanged over a real WebSocket (both subprotocols), fed by the running app's bus."""

import asyncio
import base64
import contextlib
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

import pytest
import websockets
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from starlette.routing import WebSocketRoute

from app.db.engine import SessionFactory
from app.events import topics
from app.graphql.app import ChargenetGraphQL
from app.graphql.types.events import EvseStatusChanged
from app.settings import Settings
from tests.conftest import LiveServer
from tests.factories import make_location

pytestmark = pytest.mark.e2e

SUBSCRIPTION = """
subscription Watch($ids: [ID!]!) {
  evseStatusChanged(locationIds: $ids) {
    locationId evseId evseUid stationIdentity status previousStatus errorCode changedAt
  }
}
"""
PROTOCOLS = [WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL, WebsocketsTransport.APOLLO_SUBPROTOCOL]


def global_id(type_name: str, key: int | None) -> str:
    return base64.b64encode(f"{type_name}:{key}".encode()).decode()


def status_event(
    location_id: int | None, evse_id: int, status: str, previous: str
) -> dict[str, Any]:
    return topics.evse_status_event(
        location_id=location_id,
        station_id="CS-SUB-1",
        evse_id=evse_id,
        evse_uid=f"CS-SUB-1*{evse_id}",
        status=status,
        previous_status=previous,
        error_code=None,
        changed_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
    )


def transport(server: LiveServer, subprotocol: str, **kw: Any) -> WebsocketsTransport:
    return WebsocketsTransport(url=f"{server.ws_url}/graphql", subprotocols=[subprotocol], **kw)


@pytest.mark.parametrize("subprotocol", PROTOCOLS, ids=["graphql-transport-ws", "graphql-ws"])
async def test_subscriber_receives_status_changes_of_its_locations_only(
    live_server: LiveServer,
    session_factory: SessionFactory,
    subscribed: asyncio.Queue[set[str]],
    subprotocol: str,
) -> None:
    watched = await make_location(session_factory, name="watched")
    also_watched = await make_location(session_factory, name="also watched")
    other = await make_location(session_factory, name="other")
    bus = live_server.runtime.bus
    ids = [global_id("Location", watched.id), global_id("Location", also_watched.id)]
    request = GraphQLRequest(SUBSCRIPTION, variable_values={"ids": ids})
    async with (
        asyncio.timeout(15),
        Client(transport=transport(live_server, subprotocol)) as session,
    ):
        stream: AsyncGenerator[dict[str, Any], None] = session.subscribe(request)
        first = asyncio.create_task(anext(stream))
        assert await subscribed.get() == {
            topics.evse_status(watched.id),
            topics.evse_status(also_watched.id),
        }
        # Published first: if events of other locations leaked, this would arrive first.
        await bus.publish(
            topics.evse_status(other.id), status_event(other.id, 9, "OUTOFORDER", "AVAILABLE")
        )
        await bus.publish(
            topics.evse_status(watched.id), status_event(watched.id, 1, "CHARGING", "AVAILABLE")
        )
        await bus.publish(
            topics.evse_status(also_watched.id),
            status_event(also_watched.id, 2, "AVAILABLE", "UNKNOWN"),
        )
        received = [await first, await anext(stream)]
        await stream.aclose()
    assert [r["evseStatusChanged"] for r in received] == [
        {
            "locationId": global_id("Location", watched.id),
            "evseId": global_id("Evse", 1),
            "evseUid": "CS-SUB-1*1",
            "stationIdentity": "CS-SUB-1",
            "status": "CHARGING",
            "previousStatus": "AVAILABLE",
            "errorCode": None,
            "changedAt": "2025-01-02T03:04:05+00:00",
        },
        {
            "locationId": global_id("Location", also_watched.id),
            "evseId": global_id("Evse", 2),
            "evseUid": "CS-SUB-1*2",
            "stationIdentity": "CS-SUB-1",
            "status": "AVAILABLE",
            "previousStatus": "UNKNOWN",
            "errorCode": None,
            "changedAt": "2025-01-02T03:04:05+00:00",
        },
    ]


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        ([], "locationIds is empty"),
        (["not-an-id"], "locationIds entry 'not-an-id' is not a Location id"),
        ([global_id("Evse", 1)], "is not a Location id"),
        ([global_id("Location", 424242)], "not found"),
        ([global_id("Location", i) for i in range(101)], "expected at most 100"),
    ],
    ids=["empty", "malformed", "wrong-type", "unknown", "too-many"],
)
async def test_bad_location_ids_are_refused(
    live_server: LiveServer, session_factory: SessionFactory, ids: list[str], message: str
) -> None:
    await make_location(session_factory)
    request = GraphQLRequest(SUBSCRIPTION, variable_values={"ids": ids})
    async with (
        asyncio.timeout(15),
        Client(transport=transport(live_server, PROTOCOLS[0])) as session,
    ):

        async def consume() -> list[dict[str, Any]]:
            return [event async for event in session.subscribe(request)]

        with pytest.raises(TransportQueryError) as refused:
            await consume()
    assert message in str(refused.value)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"graphql_allowed_origins": ["https://app.example.org"]})


@pytest.mark.parametrize(
    ("origin", "accepted"),
    [(None, True), ("https://app.example.org", True), ("https://evil.example.com", False)],
    ids=["no-origin", "allowed-origin", "foreign-origin"],
)
async def test_browser_websockets_need_an_allowed_origin(
    live_server: LiveServer, origin: str | None, accepted: bool
) -> None:
    url = f"{live_server.ws_url}/graphql"
    kwargs: dict[str, Any] = {"subprotocols": [PROTOCOLS[0]]}
    if origin is not None:
        kwargs["origin"] = origin
    async with asyncio.timeout(10):
        if accepted:
            async with websockets.connect(url, **kwargs) as ws:
                await ws.send('{"type": "connection_init"}')
                assert await ws.recv() == '{"type":"connection_ack"}'
        else:
            with pytest.raises(websockets.InvalidStatus) as refused:
                async with websockets.connect(url, **kwargs):
                    pass
            assert refused.value.response.status_code == 403


async def test_equal_subscriptions_share_each_events_execution(
    live_server: LiveServer,
    session_factory: SessionFactory,
    subscribed: asyncio.Queue[set[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two subscribers of one document and variables (one per subprotocol) get the same
    payloads in publish order from one execution per event; other variables, their own."""
    first = await make_location(session_factory, name="first")
    second = await make_location(session_factory, name="second")
    apart = await make_location(session_factory, name="apart")
    executed: list[str] = []
    from_payload = EvseStatusChanged.from_payload

    def counted(payload: dict[str, Any]) -> EvseStatusChanged:
        executed.append(payload["evse_uid"])
        return from_payload(payload)

    monkeypatch.setattr(EvseStatusChanged, "from_payload", counted)
    shared = {"ids": [global_id("Location", first.id), global_id("Location", second.id)]}
    own = {"ids": [global_id("Location", apart.id)]}
    subscribers = [(PROTOCOLS[0], shared), (PROTOCOLS[1], shared), (PROTOCOLS[0], own)]
    async with asyncio.timeout(20), contextlib.AsyncExitStack() as stack:
        streams: list[AsyncGenerator[dict[str, Any], None]] = []
        for subprotocol, variables in subscribers:
            session = await stack.enter_async_context(
                Client(transport=transport(live_server, subprotocol))
            )
            streams.append(
                session.subscribe(GraphQLRequest(SUBSCRIPTION, variable_values=variables))
            )
        pending = [asyncio.create_task(anext(stream)) for stream in streams]
        for _ in subscribers:
            await subscribed.get()
        assert len(graphql_view(live_server).fanout) == 2  # groups: shared, own
        bus = live_server.runtime.bus
        for evse in range(1, 11):
            location = first if evse % 2 else second
            await bus.publish(
                topics.evse_status(location.id),
                status_event(location.id, evse, "CHARGING", "AVAILABLE"),
            )
        await bus.publish(
            topics.evse_status(apart.id), status_event(apart.id, 99, "OUTOFORDER", "AVAILABLE")
        )
        received: list[list[dict[str, Any]]] = []
        for index, stream in enumerate(streams):
            count = 1 if index == 2 else 10
            events = [await pending[index]] + [await anext(stream) for _ in range(count - 1)]
            received.append([event["evseStatusChanged"] for event in events])
            await stream.aclose()
    expected_uids = [f"CS-SUB-1*{evse}" for evse in range(1, 11)]
    assert [event["evseUid"] for event in received[0]] == expected_uids
    assert received[1] == received[0]
    assert received[0][1]["locationId"] == global_id("Location", second.id)
    assert [event["evseUid"] for event in received[2]] == ["CS-SUB-1*99"]
    assert received[2][0]["status"] == "OUTOFORDER"
    # One execution per event and group, not one per subscriber (that would be 21).
    assert sorted(executed) == sorted([*expected_uids, "CS-SUB-1*99"])


def graphql_view(server: LiveServer) -> ChargenetGraphQL:
    for route in server.app.routes:
        if isinstance(route, WebSocketRoute) and isinstance(route.app, ChargenetGraphQL):
            return route.app
    raise LookupError("no GraphQL WebSocket route")
