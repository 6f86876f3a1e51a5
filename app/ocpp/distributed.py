"""Stations across instances: Redis records which instance holds each station's WebSocket, and
a command for a station held elsewhere is forwarded to that instance and answered over Redis.

Records: `<prefix>station:<id>` = owning instance id, with a TTL that the owner refreshes while
the socket is open, so a dead instance's records expire. Messages travel on the event bus:
each instance listens on its inbox topic (commands, answers, takeover notices) and on the
presence topic (which instance took or released which station), which keeps a local view of
remote stations for the synchronous `is_connected`.
"""

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Coroutine
from types import TracebackType
from typing import Any, Self

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.domain.commands import CommandOutcome, CommandStatus, StationCommand
from app.domain.errors import StationNotConnected
from app.events import EventBus, topics
from app.events.command_codec import (
    CodecError,
    decode_command,
    decode_outcome,
    encode_command,
    encode_outcome,
)
from app.events.redis_bus import RedisEventBus
from app.ocpp.connection import StationConnection
from app.ocpp.registry import StationRegistry

log = logging.getLogger(__name__)

# Delete the record only if it still names this instance: 1 deleted, 2 already gone, 0 another's.
_RELEASE = """
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
if not owner then return 2 end
return 0
"""
# Extend the record while it names this instance (or set it again if it expired); 0 = another's.
_REFRESH = """
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
if not owner then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0
"""
REPLACED = "replaced by a newer connection"


class ClusterRegistry(StationRegistry):
    """The `StationCommander` of an instance among several (enter it in the lifespan)."""

    def __init__(
        self,
        *,
        call_timeout_s: float,
        bus: RedisEventBus,
        redis_url: str,
        instance_id: str,
        key_prefix: str = "chargenet:",
        ttl_s: float = 30.0,
        refresh_s: float = 10.0,
        reply_grace_s: float = 2.0,
    ) -> None:
        super().__init__(call_timeout_s=call_timeout_s)
        self.instance_id = instance_id
        self._bus = bus
        self._redis: Redis = Redis.from_url(redis_url, decode_responses=True)
        self._keys = f"{key_prefix}station:"
        self._ttl_ms = int(ttl_s * 1000)
        self._refresh_s = refresh_s
        self._reply_grace_s = reply_grace_s
        self._release = self._redis.register_script(_RELEASE)
        self._refresh = self._redis.register_script(_REFRESH)
        self._remote: dict[str, str] = {}  # station id -> owning instance, for is_connected
        self._heard: dict[str, str | None] = {}  # presence heard while a resync reads Redis
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loops: list[asyncio.Task[None]] = []

    # -- lifecycle

    async def __aenter__(self) -> Self:
        """Listen on the inbox and presence topics, then read who holds what."""
        for topic, handle in (
            (topics.cluster_inbox(self.instance_id), self._on_inbox),
            (topics.CLUSTER_PRESENCE, self._on_presence),
        ):
            listening = asyncio.Event()
            self._loops.append(asyncio.create_task(self._listen(topic, handle, listening)))
            async with asyncio.timeout(10):
                await listening.wait()
        await self._resync()
        self._loops.append(asyncio.create_task(self._refresh_loop(), name="cluster-refresh"))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for task in [*self._loops, *self._tasks]:
            task.cancel()
        await asyncio.gather(*self._loops, *self._tasks, return_exceptions=True)
        self._loops.clear()
        await self._redis.aclose()

    # -- the StationCommander port

    def is_connected(self, station_id: str) -> bool:
        return super().is_connected(station_id) or station_id in self._remote

    def owner_of(self, station_id: str) -> str | None:
        """The instance holding the station's socket, as this instance last heard."""
        if super().is_connected(station_id):
            return self.instance_id
        return self._remote.get(station_id)

    async def send(
        self, station_id: str, command: StationCommand, *, timeout_s: float | None = None
    ) -> CommandOutcome:
        timeout_s = timeout_s or self.call_timeout_s
        if super().is_connected(station_id):
            return await super().send(station_id, command, timeout_s=timeout_s)
        try:
            owner = _text(await self._redis.get(self._keys + station_id))
        except RedisError as error:
            log.warning("station %s: cannot read its owner from Redis: %s", station_id, error)
            raise StationNotConnected(station_id) from error
        if owner is None or owner == self.instance_id:
            self._remote.pop(station_id, None)
            raise StationNotConnected(station_id)
        return await self._forward(owner, station_id, command, timeout_s)

    async def _forward(
        self, owner: str, station_id: str, command: StationCommand, timeout_s: float
    ) -> CommandOutcome:
        request_id = uuid.uuid4().hex
        answer: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = answer
        request = {
            "type": "command",
            "id": request_id,
            "reply_to": self.instance_id,
            "station_id": station_id,
            "command": encode_command(command),
            "timeout_s": timeout_s,
            "deadline": time.time() + timeout_s,
        }
        try:
            receivers = await self._bus.publish_counted(topics.cluster_inbox(owner), request)
            if receivers == 0:  # the owner died without releasing its records
                log.warning("station %s: owner %s is gone; forgetting it", station_id, owner)
                self._forget(station_id, owner)
                with contextlib.suppress(RedisError):
                    await self._release(keys=[self._keys + station_id], args=[owner])
                raise StationNotConnected(station_id)
            async with asyncio.timeout(timeout_s + self._reply_grace_s):
                reply = await answer
        except TimeoutError:
            return CommandOutcome(CommandStatus.TIMEOUT, {"timeout_s": timeout_s})
        except RedisError as error:
            log.warning("station %s: could not forward to %s: %s", station_id, owner, error)
            raise StationNotConnected(station_id) from error
        finally:
            self._pending.pop(request_id, None)
        if reply.get("error") == "not_connected":
            raise StationNotConnected(station_id)
        if "outcome" not in reply:
            return CommandOutcome(
                CommandStatus.FAILED, {"error_code": None, "description": str(reply.get("error"))}
            )
        return decode_outcome(reply["outcome"])

    # -- connections on this instance

    async def attach(self, connection: StationConnection) -> StationConnection | None:
        """Take the station's record; the instance that held it closes its socket."""
        previous = self.register(connection)
        station_id = connection.station_id
        try:
            before = _text(
                await self._redis.set(
                    self._keys + station_id, self.instance_id, px=self._ttl_ms, get=True
                )
            )
            await self._bus.publish(
                topics.CLUSTER_PRESENCE,
                {"type": "attached", "station_id": station_id, "owner": self.instance_id},
            )
            if before is not None and before != self.instance_id:
                notice = {"type": "takeover", "station_id": station_id, "owner": self.instance_id}
                await self._bus.publish(topics.cluster_inbox(before), notice)
        except RedisError as error:  # the refresher writes the record once Redis is back
            log.warning("station %s: could not record it in Redis: %s", station_id, error)
        return previous

    async def detach(self, connection: StationConnection) -> bool:
        if not self.unregister(connection):
            return False
        station_id = connection.station_id
        try:
            released = await self._release(keys=[self._keys + station_id], args=[self.instance_id])
            if released == 0:  # another instance holds the station now: not a disconnection
                return False
            await self._bus.publish(
                topics.CLUSTER_PRESENCE,
                {"type": "detached", "station_id": station_id, "owner": self.instance_id},
            )
        except RedisError as error:  # the record expires on its own
            log.warning("station %s: could not release its record: %s", station_id, error)
        return True

    # -- messages from other instances

    async def _listen(
        self,
        topic: str,
        handle: Callable[[dict[str, Any]], None],
        listening: asyncio.Event,
    ) -> None:
        async with self._bus.subscribe(topic, max_queue=10_000) as subscription:
            listening.set()
            async for _topic, payload in subscription:
                try:
                    handle(payload)
                except Exception:  # loop top: one bad message must not stop the inbox
                    log.exception("cluster message %.200r failed", payload)

    def _on_presence(self, message: dict[str, Any]) -> None:
        station_id, owner = str(message.get("station_id")), str(message.get("owner"))
        if owner == self.instance_id:
            return
        if message.get("type") == "attached":
            self._remote[station_id] = owner
            self._heard[station_id] = owner
        elif message.get("type") == "detached":
            self._forget(station_id, owner)
            self._heard[station_id] = None

    def _on_inbox(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "reply":
            answer = self._pending.get(str(message.get("id")))
            if answer is not None and not answer.done():
                answer.set_result(message)
        elif kind == "command":
            self._spawn(self._serve_request(message), name="cluster-command")
        elif kind == "takeover":
            station_id = str(message.get("station_id"))
            self._spawn(self._taken_over(station_id, str(message.get("owner"))), name="takeover")

    def _spawn(self, coro: Coroutine[Any, Any, None], *, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve_request(self, request: dict[str, Any]) -> None:
        """Send a forwarded command on the local socket and publish the station's answer."""
        reply: dict[str, Any] = {"type": "reply", "id": request.get("id")}
        station_id = str(request.get("station_id"))
        try:
            command = decode_command(request.get("command"))
            timeout_s = float(request["timeout_s"])
            remaining = min(timeout_s, float(request["deadline"]) - time.time())
            outcome = CommandOutcome(CommandStatus.TIMEOUT, {"timeout_s": timeout_s})
            if remaining > 0:
                outcome = await super().send(station_id, command, timeout_s=remaining)
            if outcome.status == CommandStatus.TIMEOUT:  # the caller's timeout, as if local
                outcome = CommandOutcome(CommandStatus.TIMEOUT, {"timeout_s": timeout_s})
            reply["outcome"] = encode_outcome(outcome)
        except StationNotConnected:
            reply["error"] = "not_connected"
        except (CodecError, KeyError, TypeError, ValueError) as error:
            reply["error"] = f"bad request: {error}"
        try:
            await self._bus.publish_counted(topics.cluster_inbox(str(request["reply_to"])), reply)
        except (RedisError, KeyError) as error:
            log.warning("station %s: could not answer a forwarded command: %s", station_id, error)

    async def _taken_over(self, station_id: str, owner: str) -> None:
        """Another instance holds the station now: close this instance's socket, if it is not
        newer than that instance's record (it would then have taken the record back)."""
        with contextlib.suppress(RedisError):
            if await self._redis.get(self._keys + station_id) == self.instance_id:
                return
        connection = self.get(station_id)
        if connection is None:
            return
        self.unregister(connection)  # the endpoint's detach then leaves the record alone
        self._remote[station_id] = owner
        log.info("station %s moved to instance %s: closing its socket here", station_id, owner)
        await connection.close(code=1000, reason=REPLACED)

    def _forget(self, station_id: str, owner: str) -> None:
        if self._remote.get(station_id) == owner:
            del self._remote[station_id]

    # -- keeping the records alive

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self._refresh_s)
            try:
                await self._refresh_records()
                await self._resync()
            except Exception:  # loop top: Redis may be back on the next pass
                log.exception("cluster registry refresh failed")

    async def _refresh_records(self) -> None:
        stations = [c.station_id for c in list(self._connections.values())]
        for station_id in stations:
            kept = await self._refresh(
                keys=[self._keys + station_id], args=[self.instance_id, self._ttl_ms]
            )
            if kept == 0:  # a takeover notice was lost: another instance holds the station
                owner = await self._redis.get(self._keys + station_id)
                await self._taken_over(station_id, str(owner))

    async def _resync(self) -> None:
        """Read every record: the view of remote stations drops those of dead instances."""
        self._heard = {}
        keys = [key async for key in self._redis.scan_iter(match=self._keys + "*", count=1000)]
        owners = [_text(owner) for owner in await self._redis.mget(keys)] if keys else []
        remote = {
            key.removeprefix(self._keys): owner
            for key, owner in zip(keys, owners, strict=True)
            if owner is not None and owner != self.instance_id
        }
        for station_id, heard in self._heard.items():  # newer than what the scan read
            if heard is None:
                remote.pop(station_id, None)
            else:
                remote[station_id] = heard
        self._remote = remote


def _text(value: object) -> str | None:
    """A Redis string reply (the client decodes responses), None for a missing key."""
    return value if isinstance(value, str) else None


def create_registry(
    *,
    bus: EventBus,
    redis_url: str | None,
    instance_id: str,
    key_prefix: str,
    call_timeout_s: float,
    ttl_s: float,
    refresh_s: float,
) -> StationRegistry:
    """A `ClusterRegistry` when `redis_url` is set (several instances), else in-process."""
    if redis_url is None:
        return StationRegistry(call_timeout_s=call_timeout_s)
    if not isinstance(bus, RedisEventBus):
        raise TypeError(f"several instances need the Redis event bus, got {type(bus).__name__}")
    return ClusterRegistry(
        call_timeout_s=call_timeout_s,
        bus=bus,
        redis_url=redis_url,
        instance_id=instance_id,
        key_prefix=key_prefix,
        ttl_s=ttl_s,
        refresh_s=refresh_s,
    )


def default_instance_id() -> str:
    """`host:pid`: unique among the instances of a deployment."""
    return f"{socket.gethostname()}:{os.getpid()}"
