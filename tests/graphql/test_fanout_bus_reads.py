"""Bus subscriptions as the fan-out reads them: drained without waiting, or awaited by more
than one reader, where a reader that is cancelled costs the others nothing and loses no event."""

import asyncio

from app.events import InProcessEventBus


async def test_draining_without_waiting_gives_the_events_in_order_then_none() -> None:
    bus = InProcessEventBus()
    async with bus.subscribe("t") as subscription:
        for n in range(3):
            await bus.publish("t", {"n": n})
        drained = []
        while (event := subscription.get_nowait()) is not None:
            drained.append(event[1]["n"])
    assert drained == [0, 1, 2]


async def test_a_cancelled_wait_loses_no_event() -> None:
    bus = InProcessEventBus()
    async with bus.subscribe("t") as subscription:
        waiting = asyncio.create_task(subscription.get())
        await asyncio.sleep(0)  # let it start waiting
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        await bus.publish("t", {"n": 1})
        async with asyncio.timeout(1):
            assert await subscription.get() == ("t", {"n": 1})
    assert waiting.cancelled()


async def test_one_reader_cancelled_leaves_the_other_waiting_for_the_next_event() -> None:
    bus = InProcessEventBus()
    async with bus.subscribe("t") as subscription:
        first = asyncio.create_task(subscription.get())
        second = asyncio.create_task(subscription.get())
        await asyncio.sleep(0)  # both wait on the same subscription
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
        await bus.publish("t", {"n": 1})
        async with asyncio.timeout(1):
            assert await second == ("t", {"n": 1})
    assert first.cancelled()


async def test_two_readers_share_the_events_each_once() -> None:
    bus = InProcessEventBus()
    async with bus.subscribe("t") as subscription:
        readers = [asyncio.create_task(subscription.get()) for _ in range(2)]
        await asyncio.sleep(0)
        await bus.publish("t", {"n": 1})
        await bus.publish("t", {"n": 2})
        async with asyncio.timeout(1):
            got = sorted(event[1]["n"] for event in await asyncio.gather(*readers))
    assert got == [1, 2]
