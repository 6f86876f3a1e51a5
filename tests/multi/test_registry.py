"""The cluster registry between two apps in one process (uvicorn each, one Redis, either
database): forwarding, its timeout, stations nobody holds, records of dead instances."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.commands import CommandStatus, RequestStart
from app.domain.errors import StationNotConnected
from app.events import topics
from app.main import create_app
from app.ocpp.distributed import ClusterRegistry
from app.settings import Settings
from tests.conftest import LiveServer, serve
from tests.factories import make_station
from tests.ocpp.clients import BOOT201, V201, boot201, charger, exchange, raw_socket

pytestmark = pytest.mark.e2e

START = RequestStart(ocpp_evse_id=1, id_token="APP-USER-1", remote_start_id=42)
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def pair(
    settings: Settings, engine: AsyncEngine
) -> AsyncIterator[tuple[LiveServer, LiveServer, str]]:
    """Instances A and B on one database and one Redis namespace; yields (A, B, prefix)."""
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    common = {"redis_url": REDIS_URL, "redis_key_prefix": prefix}
    a_settings = settings.model_copy(update={**common, "instance_id": "A"})
    b_settings = settings.model_copy(update={**common, "instance_id": "B"})
    async with serve(create_app(a_settings)) as a, serve(create_app(b_settings)) as b:
        yield a, b, prefix
    redis = Redis.from_url(REDIS_URL, decode_responses=True)
    keys = [key async for key in redis.scan_iter(match=prefix + "*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


def registry(server: LiveServer) -> ClusterRegistry:
    found = server.runtime.registry
    assert isinstance(found, ClusterRegistry)
    return found


async def test_a_command_sent_on_b_reaches_the_charger_on_a_and_its_answer_comes_back(
    pair: tuple[LiveServer, LiveServer, str],
) -> None:
    a, b, _ = pair
    await make_station(a.runtime.session_factory, station_id="FW-1")
    async with charger(a, "FW-1", version=V201) as cp:
        await boot201(cp)
        outcome = await registry(b).send("FW-1", START)
    assert outcome.status == CommandStatus.ACCEPTED
    assert outcome.detail["status"] == "Accepted"


async def test_a_charger_that_does_not_answer_a_forwarded_command_gives_timeout(
    pair: tuple[LiveServer, LiveServer, str],
) -> None:
    a, b, _ = pair
    await make_station(a.runtime.session_factory, station_id="FW-MUTE")
    async with raw_socket(a, "FW-MUTE", subprotocols=(V201,)) as ws:
        assert (await exchange(ws, BOOT201))[0] == 3
        sending = asyncio.create_task(registry(b).send("FW-MUTE", START, timeout_s=0.5))
        async with asyncio.timeout(10):
            call = json.loads(await ws.recv())  # read on A's socket, never answered
            outcome = await sending
    assert call[2] == "RequestStartTransaction"
    assert outcome.status == CommandStatus.TIMEOUT
    assert outcome.detail == {"timeout_s": 0.5}


async def test_a_station_nobody_holds_is_not_connected_anywhere(
    pair: tuple[LiveServer, LiveServer, str],
) -> None:
    _, b, _ = pair
    assert not registry(b).is_connected("NOBODY")
    with pytest.raises(StationNotConnected):
        await registry(b).send("NOBODY", START)


async def test_the_record_of_a_dead_instance_is_not_connected_and_is_removed(
    pair: tuple[LiveServer, LiveServer, str],
) -> None:
    _, b, prefix = pair
    redis = Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        await redis.set(f"{prefix}station:GHOST", "crashed-instance", ex=30)
        with pytest.raises(StationNotConnected):
            await registry(b).send("GHOST", START)  # nobody listens on that instance's inbox
        assert await redis.get(f"{prefix}station:GHOST") is None
    finally:
        await redis.aclose()


async def test_a_station_recorded_by_another_instance_is_closed_here_at_the_refresh(
    pair: tuple[LiveServer, LiveServer, str],
) -> None:
    """A lost takeover notice: the refresh finds another instance's name on the record."""
    a, _, prefix = pair
    await make_station(a.runtime.session_factory, station_id="FW-LOST")
    redis = Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        async with raw_socket(a, "FW-LOST", subprotocols=(V201,)) as ws:
            assert (await exchange(ws, BOOT201))[0] == 3
            assert await redis.get(f"{prefix}station:FW-LOST") == "A"
            await redis.set(f"{prefix}station:FW-LOST", "B", ex=30)
            await registry(a)._refresh_records()
            async with asyncio.timeout(5):
                await ws.wait_closed()
        assert not registry(a).get("FW-LOST")
        assert await redis.get(f"{prefix}station:FW-LOST") == "B"  # B's record stays
    finally:
        await redis.aclose()


async def test_a_clean_disconnect_releases_the_record(
    pair: tuple[LiveServer, LiveServer, str],
) -> None:
    a, _, prefix = pair
    await make_station(a.runtime.session_factory, station_id="FW-BYE")
    redis = Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        async with a.runtime.bus.subscribe(topics.station_status("FW-BYE")) as events:
            async with raw_socket(a, "FW-BYE", subprotocols=(V201,)) as ws:
                assert (await exchange(ws, BOOT201))[0] == 3
                ttl = await redis.pttl(f"{prefix}station:FW-BYE")
                assert 0 < ttl <= 30_000
            async with asyncio.timeout(10):
                while (await events.get())[1]["type"] != "StationDisconnected":
                    pass
        assert await redis.get(f"{prefix}station:FW-BYE") is None
    finally:
        await redis.aclose()
