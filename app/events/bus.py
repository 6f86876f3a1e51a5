"""Event bus interface and its in-process backend."""

import asyncio
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, Protocol

log = logging.getLogger(__name__)

Event = tuple[str, dict[str, Any]]


class Subscription:
    """Events on the topics a caller subscribed to, in publish order, as `(topic, payload)`.

    A subscriber that falls more than `max_queue` events behind loses the oldest ones and
    `dropped` counts them: live views re-read state, so a lost event is never a lost state.
    """

    __slots__ = ("_max_queue", "_queue", "_waiter", "dropped", "listener", "topics")

    def __init__(self, topics: frozenset[str], max_queue: int) -> None:
        self.topics = topics
        self.dropped = 0
        self.listener: Callable[[], None] | None = None
        """Called after each delivered event: lets one reader drain many subscriptions with
        `get_nowait` instead of a task awaiting each (app/graphql/fanout.py)."""
        # A deque and one future, not an asyncio.Queue: the fan-out drains a thousand of
        # these per event, where the Queue's five calls per item showed in profiles.
        self._queue: deque[Event] = deque()
        self._max_queue = max_queue
        self._waiter: asyncio.Future[None] | None = None

    def deliver(self, event: Event) -> None:
        events = self._queue
        if len(events) >= self._max_queue:
            events.popleft()
            self.dropped += 1
        events.append(event)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            waiter.set_result(None)
        if self.listener is not None:
            self.listener()

    async def get(self) -> Event:
        """The next event, waiting for one; a cancelled wait loses none."""
        while not self._queue:
            waiter = self._waiter
            if waiter is None or waiter.done():
                waiter = self._waiter = asyncio.get_running_loop().create_future()
            # Shielded: readers share the future, and one cancelled must not cancel the rest.
            await asyncio.shield(waiter)
        return self._queue.popleft()

    def get_nowait(self) -> Event | None:
        """The next event if one is waiting, else None."""
        return self._queue.popleft() if self._queue else None

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        return await self.get()


class EventBus(Protocol):
    async def publish(self, topic: str, payload: Mapping[str, Any]) -> None:
        """Deliver `payload` to every current subscriber of `topic` (on every instance)."""
        ...

    def subscribe(
        self, *topics: str, max_queue: int = 1000
    ) -> AbstractAsyncContextManager[Subscription]:
        """Listen on `topics` for the duration of the `async with` block."""
        ...

    async def start(self) -> None:
        """Connect to the backend, if it has one (called by the app's lifespan)."""
        ...

    async def close(self) -> None: ...


class InProcessEventBus:
    """Delivers events to subscribers in this process only (no REDIS_URL)."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = {}

    async def publish(self, topic: str, payload: Mapping[str, Any]) -> None:
        event = (topic, dict(payload))
        for subscription in tuple(self._subscribers.get(topic, ())):
            subscription.deliver(event)

    @asynccontextmanager
    async def _subscription(
        self, topics: frozenset[str], max_queue: int
    ) -> AsyncIterator[Subscription]:
        subscription = Subscription(topics, max_queue)
        for topic in topics:
            self._subscribers.setdefault(topic, set()).add(subscription)
        try:
            yield subscription
        finally:
            for topic in topics:
                subscribers = self._subscribers.get(topic)
                if subscribers is not None:
                    subscribers.discard(subscription)
                    if not subscribers:
                        del self._subscribers[topic]

    def subscribe(
        self, *topics: str, max_queue: int = 1000
    ) -> AbstractAsyncContextManager[Subscription]:
        if not topics:
            raise ValueError("subscribe() needs at least one topic")
        return self._subscription(frozenset(topics), max_queue)

    async def start(self) -> None:
        return None

    def subscriber_count(self, topic: str) -> int:
        return len(self._subscribers.get(topic, ()))

    async def close(self) -> None:
        self._subscribers.clear()
