"""WebSocket authentication in connection_init: a valid token, a bad one, and none."""

import asyncio
import json
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import websockets
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport

from app.db.engine import SessionFactory
from app.events import topics
from app.services.auth import Principal, PrincipalKind
from tests.conftest import LiveServer
from tests.factories import make_location
from tests.graphql.conftest import global_id

pytestmark = pytest.mark.e2e

SIGN_UP = """
mutation { signUp(input: {email: "ada@example.org", password: "correct horse battery",
                          name: "Ada"}) { ... on AuthPayload { accessToken } } }
"""
WATCH = "subscription W($ids: [ID!]!) { evseStatusChanged(locationIds: $ids) { evseUid status } }"
ME = "{ me { email } }"
PROTOCOLS = [WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL, WebsocketsTransport.APOLLO_SUBPROTOCOL]


async def access_token(server: LiveServer) -> str:
    async with httpx.AsyncClient(base_url=server.http_url, timeout=10) as http:
        response = await http.post("/graphql", json={"query": SIGN_UP})
    token: str = response.json()["data"]["signUp"]["accessToken"]
    return token


def transport(
    server: LiveServer, authorization: str | None, subprotocol: str
) -> WebsocketsTransport:
    init = {"Authorization": authorization} if authorization is not None else None
    return WebsocketsTransport(
        url=f"{server.ws_url}/graphql",
        subprotocols=[subprotocol],
        init_payload=init or {},
    )


async def receive_one_status(
    server: LiveServer,
    session: Any,
    subscribed: asyncio.Queue[set[str]],
    location_id: int,
) -> dict[str, Any]:
    request = GraphQLRequest(WATCH, variable_values={"ids": [global_id("Location", location_id)]})
    stream: AsyncGenerator[dict[str, Any], None] = session.subscribe(request)
    first = asyncio.create_task(anext(stream))
    assert await subscribed.get() == {topics.evse_status(location_id)}
    await server.runtime.bus.publish(
        topics.evse_status(location_id),
        topics.evse_status_event(
            location_id=location_id,
            station_id="CS-AUTH-1",
            evse_id=1,
            evse_uid="CS-AUTH-1*1",
            status="CHARGING",
            previous_status="AVAILABLE",
            error_code=None,
            changed_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        ),
    )
    event: dict[str, Any] = await first
    await stream.aclose()
    return event


@pytest.mark.parametrize("subprotocol", PROTOCOLS, ids=["graphql-transport-ws", "graphql-ws"])
async def test_a_valid_token_authenticates_the_connection(
    live_server: LiveServer,
    session_factory: SessionFactory,
    subscribed: asyncio.Queue[set[str]],
    subprotocol: str,
) -> None:
    location = await make_location(session_factory)
    assert location.id is not None
    token = await access_token(live_server)
    async with (
        asyncio.timeout(15),
        Client(transport=transport(live_server, f"Bearer {token}", subprotocol)) as s,
    ):
        if subprotocol == PROTOCOLS[0]:  # legacy graphql-ws carries subscriptions only
            assert await s.execute(GraphQLRequest(ME)) == {"me": {"email": "ada@example.org"}}
        event = await receive_one_status(live_server, s, subscribed, location.id)
    assert event == {"evseStatusChanged": {"evseUid": "CS-AUTH-1*1", "status": "CHARGING"}}


@pytest.mark.parametrize(
    "authorization",
    ["Bearer not-a-jwt", "Basic YWRhOnB3", "Bearer expired"],
    ids=["bad-token", "wrong-scheme", "expired-token"],
)
async def test_bad_credentials_are_refused_at_connection_init(
    live_server: LiveServer, authorization: str
) -> None:
    if authorization == "Bearer expired":
        principal = Principal(PrincipalKind.DRIVER, 1)
        past = datetime.now(UTC) - timedelta(hours=1)
        authorization = f"Bearer {live_server.runtime.tokens.issue(principal, now=past)[0]}"
    init = json.dumps({"type": "connection_init", "payload": {"Authorization": authorization}})
    url = f"{live_server.ws_url}/graphql"
    async with asyncio.timeout(10):
        # graphql-transport-ws has no error message for connection_init: it closes with 4403.
        async with websockets.connect(url, subprotocols=[PROTOCOLS[0]]) as ws:
            await ws.send(init)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4403, "Forbidden")
        # graphql-ws (legacy) says why in connection_error, then closes.
        async with websockets.connect(url, subprotocols=[PROTOCOLS[1]]) as ws:
            await ws.send(init)
            answer = json.loads(await ws.recv())
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
    assert answer["type"] == "connection_error"
    assert answer["payload"]["message"].startswith(("the access token", "the Authorization"))


@pytest.mark.parametrize("subprotocol", PROTOCOLS, ids=["graphql-transport-ws", "graphql-ws"])
async def test_without_a_token_the_connection_is_anonymous(
    live_server: LiveServer,
    session_factory: SessionFactory,
    subscribed: asyncio.Queue[set[str]],
    subprotocol: str,
) -> None:
    location = await make_location(session_factory)
    assert location.id is not None
    async with (
        asyncio.timeout(15),
        Client(transport=transport(live_server, None, subprotocol)) as session,
    ):
        if subprotocol == PROTOCOLS[0]:  # legacy graphql-ws carries subscriptions only
            with pytest.raises(TransportQueryError, match="log in first"):
                await session.execute(GraphQLRequest(ME))
        event = await receive_one_status(live_server, session, subscribed, location.id)
    assert event["evseStatusChanged"]["status"] == "CHARGING"
