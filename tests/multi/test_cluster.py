"""Two chargenet processes on one PostgreSQL and one Redis act as one system: commands cross
instances, events reach subscribers on either, a charger may move between them."""

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport
from redis.asyncio import Redis

from app.db.engine import SessionFactory
from app.db.models import ChargingStation
from app.services.auth import TokenService
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

WATCH = """
subscription W($ids: [ID!]!) { evseStatusChanged(locationIds: $ids) { stationIdentity status } }
"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def nodes(
    env: dict[str, str], db: SessionFactory
) -> AsyncIterator[Callable[[str], Instance]]:
    async with cluster(["A", "B"], env) as node:
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
    transport = WebsocketsTransport(url=f"{b.ws_url}/graphql")
    ids = [global_id("Location", location.id)]
    async with (
        online(charger(a, "XV-0001")) as station,
        asyncio.timeout(15),
        Client(transport=transport) as session,
    ):
        first = asyncio.ensure_future(
            anext(session.subscribe(GraphQLRequest(WATCH, variable_values={"ids": ids})))
        )
        # B's subscription is live once B subscribed the channel on Redis. It lives in another
        # process: Redis's subscriber count is the one thing to watch (bounded by the timeout).
        while (await redis.pubsub_numsub(channel))[0][1] == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        await station.send_status(1, "Occupied")
        event = await first
    assert event["evseStatusChanged"] == {"stationIdentity": "XV-0001", "status": "CHARGING"}


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
