"""The Redis event bus: events cross instances; subscriptions are live once subscribe returns."""

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from app.events.redis_bus import RedisEventBus

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def two_instances() -> AsyncIterator[tuple[RedisEventBus, RedisEventBus]]:
    """Two buses on one Redis, as two chargenet instances would have, isolated by prefix."""
    prefix = f"test:{uuid.uuid4().hex}:"
    a, b = RedisEventBus(REDIS_URL, prefix=prefix), RedisEventBus(REDIS_URL, prefix=prefix)
    yield a, b
    await a.close()
    await b.close()


async def test_an_event_published_on_one_instance_reaches_a_subscriber_on_another(
    two_instances: tuple[RedisEventBus, RedisEventBus],
) -> None:
    a, b = two_instances
    async with b.subscribe("location.7.evse-status") as subscription:
        await a.publish("location.7.evse-status", {"status": "CHARGING", "evse_id": 3})
        await a.publish("location.8.evse-status", {"status": "AVAILABLE", "evse_id": 4})
        await a.publish("location.7.evse-status", {"status": "AVAILABLE", "evse_id": 3})
        async with asyncio.timeout(5):
            first = await subscription.get()
            second = await subscription.get()
    assert first == ("location.7.evse-status", {"status": "CHARGING", "evse_id": 3})
    assert second == ("location.7.evse-status", {"status": "AVAILABLE", "evse_id": 3})


async def test_subscribers_on_both_instances_each_get_the_event_once(
    two_instances: tuple[RedisEventBus, RedisEventBus],
) -> None:
    a, b = two_instances
    async with a.subscribe("t") as on_a, b.subscribe("t") as on_b, b.subscribe("t") as on_b2:
        await a.publish("t", {"n": 1})
        await b.publish("t", {"n": 2})
        async with asyncio.timeout(5):
            for subscription in (on_a, on_b, on_b2):
                assert [(await subscription.get())[1]["n"] for _ in range(2)] == [1, 2]
    for subscription in (on_a, on_b, on_b2):
        assert subscription.get_nowait() is None


async def test_the_redis_channel_is_released_with_the_last_local_subscriber(
    two_instances: tuple[RedisEventBus, RedisEventBus],
) -> None:
    a, _ = two_instances
    probe = Redis.from_url(REDIS_URL, decode_responses=True)
    channel = a._prefix + "released"
    try:
        async with a.subscribe("released"):
            async with a.subscribe("released"):
                assert (await probe.pubsub_numsub(channel))[0][1] == 1
            assert (await probe.pubsub_numsub(channel))[0][1] == 1
        assert (await probe.pubsub_numsub(channel))[0][1] == 0
    finally:
        await probe.aclose()


async def test_a_malformed_message_on_the_channel_is_dropped_not_fatal(
    two_instances: tuple[RedisEventBus, RedisEventBus],
) -> None:
    a, _ = two_instances
    probe = Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        async with a.subscribe("t") as subscription:
            await probe.publish(a._prefix + "t", "{not json")
            await a.publish("t", {"ok": True})
            async with asyncio.timeout(5):
                assert await subscription.get() == ("t", {"ok": True})
    finally:
        await probe.aclose()
