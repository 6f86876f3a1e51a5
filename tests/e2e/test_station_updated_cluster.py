"""stationUpdated across instances: a map subscribed on instance B follows a charger connected
to instance A (one database, one Redis), because the events travel over the event bus."""

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.access import OperatorRole
from app.main import create_app
from app.settings import Settings
from app.simulator import create_station
from tests.access_builders import make_operator_user, operator_bearer, own_network
from tests.conftest import LiveServer, serve
from tests.e2e.test_station_updated import (
    PASSWORD,
    STATION_UPDATED,
    charger_config,
    listen,
    until,
)
from tests.factories import make_location, make_station

pytestmark = pytest.mark.e2e

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def pair(settings: Settings, engine: AsyncEngine) -> AsyncIterator[tuple[LiveServer, ...]]:
    """Instances A and B on one database and one Redis namespace."""
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    common = {"redis_url": REDIS_URL, "redis_key_prefix": prefix}
    a_settings = settings.model_copy(update={**common, "instance_id": "A"})
    b_settings = settings.model_copy(update={**common, "instance_id": "B"})
    async with serve(create_app(a_settings)) as a, serve(create_app(b_settings)) as b:
        yield a, b
    redis = Redis.from_url(REDIS_URL, decode_responses=True)
    keys = [key async for key in redis.scan_iter(match=prefix + "*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


async def test_a_map_on_b_follows_a_charger_on_a(pair: tuple[LiveServer, ...]) -> None:
    a, b = pair
    factory = b.runtime.session_factory
    location = await make_location(factory, name="Cluster site")
    await make_station(factory, station_id="MAP-0001", password=PASSWORD, location=location)
    viewer = await make_operator_user(factory, role=OperatorRole.VIEWER)
    await own_network(factory, viewer.operator_id)
    async with AsyncExitStack() as stack:
        # B's first snapshot comes once B listens on Redis: nothing after it is missed.
        updates = await listen(b, operator_bearer(b.runtime.tokens, viewer), STATION_UPDATED, stack)
        first = await until(updates, lambda s: True)
        assert (first["identity"], first["online"]) == ("MAP-0001", False)
        charger = create_station(charger_config(a, "1.6"), 0)
        async with charger.connect():
            assert await charger.boot() == "Accepted"
            assert a.runtime.registry.is_connected("MAP-0001")
            await until(updates, lambda s: s["online"])
            await charger.send_status(1, "Faulted")
            faulted = await until(updates, lambda s: s["evses"][0]["status"] == "OUTOFORDER")
            assert faulted["online"] is True
        offline = await until(updates, lambda s: not s["online"])
        assert offline["connectivityReason"] == "DISCONNECTED"
