"""Event bus over Redis pub/sub, so that every instance sees every event (REDIS_URL set).

Each instance holds one pub/sub connection. A topic is SUBSCRIBEd on Redis while at least one
local subscriber listens to it, and `subscribe()` returns only after Redis confirmed, so an
event published anywhere after that reaches the subscriber. Delivery to local subscribers reuses
the in-process bus. Redis pub/sub is at-most-once: live views re-read state on reconnect.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.events.bus import InProcessEventBus, Subscription

log = logging.getLogger(__name__)

_CONTROL = "__control__"


class RedisEventBus:
    def __init__(self, url: str, *, prefix: str = "chargenet:events:") -> None:
        self._redis: Redis = Redis.from_url(url, decode_responses=True)
        self._prefix = prefix
        self._local = InProcessEventBus()
        self._pubsub: PubSub | None = None
        self._reader: asyncio.Task[None] | None = None
        self._refcount: dict[str, int] = {}
        self._confirmations: dict[tuple[str, str], list[asyncio.Future[None]]] = {}
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Open the pub/sub connection and start the reader (idempotent)."""
        if self._pubsub is not None:
            return
        self._pubsub = self._redis.pubsub()
        confirmed = self._expect_confirmation("subscribe", self._prefix + _CONTROL)
        await self._pubsub.subscribe(self._prefix + _CONTROL)
        self._reader = asyncio.create_task(self._read(), name="redis-event-bus-reader")
        async with asyncio.timeout(10):
            await confirmed

    async def publish(self, topic: str, payload: Mapping[str, Any]) -> None:
        data = json.dumps(dict(payload), separators=(",", ":"), default=str)
        try:
            await self._redis.publish(self._prefix + topic, data)
        except RedisError:
            # The state change is committed already; subscribers re-read state on reconnect.
            log.warning("could not publish an event on %s", topic, exc_info=True)

    async def publish_counted(self, topic: str, payload: Mapping[str, Any]) -> int:
        """Publish like `publish`, but let a Redis failure raise and return how many instances
        (pub/sub connections) received the message: 0 tells a sender nobody listens there."""
        data = json.dumps(dict(payload), separators=(",", ":"), default=str)
        receivers: int = await self._redis.publish(self._prefix + topic, data)
        return receivers

    def subscribe(
        self, *topics: str, max_queue: int = 1000
    ) -> AbstractAsyncContextManager[Subscription]:
        if not topics:
            raise ValueError("subscribe() needs at least one topic")
        return self._subscription(frozenset(topics), max_queue)

    @asynccontextmanager
    async def _subscription(
        self, topics: frozenset[str], max_queue: int
    ) -> AsyncIterator[Subscription]:
        await self.start()
        async with self._local.subscribe(*topics, max_queue=max_queue) as subscription:
            await self._retain(topics)
            try:
                yield subscription
            finally:
                await self._release(topics)

    async def _retain(self, topics: frozenset[str]) -> None:
        assert self._pubsub is not None
        async with self._lock:
            new = [t for t in topics if self._refcount.get(t, 0) == 0]
            for topic in topics:
                self._refcount[topic] = self._refcount.get(topic, 0) + 1
            if not new:
                return
            channels = [self._prefix + t for t in new]
            waits = [self._expect_confirmation("subscribe", c) for c in channels]
            await self._pubsub.subscribe(*channels)
        async with asyncio.timeout(10):
            await asyncio.gather(*waits)

    async def _release(self, topics: frozenset[str]) -> None:
        assert self._pubsub is not None
        async with self._lock:
            gone = []
            for topic in topics:
                self._refcount[topic] -= 1
                if self._refcount[topic] == 0:
                    del self._refcount[topic]
                    gone.append(self._prefix + topic)
            if not gone:
                return
            waits = [self._expect_confirmation("unsubscribe", c) for c in gone]
            try:
                await self._pubsub.unsubscribe(*gone)
            except RedisError:
                log.warning("could not unsubscribe from %s", gone, exc_info=True)
                return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                await asyncio.gather(*waits)

    def _expect_confirmation(self, kind: str, channel: str) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._confirmations.setdefault((kind, channel), []).append(future)
        return future

    async def _read(self) -> None:
        assert self._pubsub is not None
        backoff = 0.1
        while True:
            try:
                message = await self._pubsub.get_message(timeout=None)
                backoff = 0.1
            except (RedisConnectionError, RedisTimeoutError, OSError):
                log.warning("event bus lost Redis; reconnecting in %.1fs", backoff, exc_info=True)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if message is None:
                continue
            await self._dispatch(message)

    async def _dispatch(self, message: dict[str, Any]) -> None:
        channel = str(message.get("channel", ""))
        kind = message.get("type")
        if kind in ("subscribe", "unsubscribe"):
            for future in self._confirmations.pop((str(kind), channel), []):
                if not future.done():
                    future.set_result(None)
            return
        if kind != "message" or not channel.startswith(self._prefix):
            return
        try:
            payload = json.loads(message["data"])
        except (TypeError, ValueError):
            log.warning("dropped a malformed event on %s", channel)
            return
        if isinstance(payload, dict):
            await self._local.publish(channel.removeprefix(self._prefix), payload)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._pubsub is not None:
            with contextlib.suppress(RedisError):
                await self._pubsub.aclose()
            self._pubsub = None
        await self._local.close()
        await self._redis.aclose()
