"""The in-process event bus: delivery by topic, order, isolation and bounded queues."""

import asyncio

import pytest

from app.events import InProcessEventBus


async def test_subscribers_receive_events_of_their_topics_in_order() -> None:
    bus = InProcessEventBus()
    async with bus.subscribe("a", "b") as both, bus.subscribe("b") as only_b:
        await bus.publish("a", {"n": 1})
        await bus.publish("b", {"n": 2})
        await bus.publish("c", {"n": 3})
        async with asyncio.timeout(1):
            assert await both.get() == ("a", {"n": 1})
            assert await both.get() == ("b", {"n": 2})
            assert await only_b.get() == ("b", {"n": 2})
    assert bus.subscriber_count("a") == 0
    assert bus.subscriber_count("b") == 0


async def test_a_published_payload_is_a_copy() -> None:
    bus = InProcessEventBus()
    payload = {"status": "AVAILABLE"}
    async with bus.subscribe("t") as subscription:
        await bus.publish("t", payload)
        payload["status"] = "CHARGING"
        async with asyncio.timeout(1):
            _, received = await subscription.get()
    assert received == {"status": "AVAILABLE"}


async def test_a_slow_subscriber_loses_the_oldest_events_and_counts_them() -> None:
    bus = InProcessEventBus()
    async with bus.subscribe("t", max_queue=3) as subscription:
        for n in range(5):
            await bus.publish("t", {"n": n})
        async with asyncio.timeout(1):
            received = [(await subscription.get())[1]["n"] for _ in range(3)]
    assert received == [2, 3, 4]
    assert subscription.dropped == 2


def test_subscribing_to_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="at least one topic"):
        InProcessEventBus().subscribe()
