"""The connection side of a simulated charger: WebSocket, CALLs, and the transaction outbox."""

import asyncio
import base64
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar, cast

from ocpp.exceptions import OCPPError
from ocpp.routing import after as _after
from ocpp.routing import on as _on
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from app.simulator.config import SimulationStats

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

MAX_ATTEMPTS = 3  # per transaction message, on timeouts (OCPP TransactionMessageAttempts)


def on(action: str) -> Callable[[F], F]:
    """`ocpp.routing.on`, typed: the handler answering a CALL from the CSMS."""
    return cast(Callable[[F], F], _on(action))


def after(action: str) -> Callable[[F], F]:
    """`ocpp.routing.after`, typed: runs once the answer is sent; CALLs to the CSMS go here."""
    return cast(Callable[[F], F], _after(action))


class NotConnectedError(ConnectionError):
    """A CALL was attempted while the station has no open, accepted connection."""


@dataclass(eq=False)
class Outgoing:
    """A queued transaction message. `build` runs at send time (1.6 needs the CSMS's tx id)."""

    action: str
    build: Callable[[], Any]
    on_result: Callable[[Any], None] | None = None
    done: asyncio.Future[Any] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    attempts: int = 0


class StationLink:
    """Owns one station's socket and the `ocpp` ChargePoint on it; queues transaction messages.

    Transaction messages go through the outbox and leave it only once the CSMS answered, so a
    dropped connection delays them instead of losing them (OCPP requires this). Other CALLs
    (heartbeat, status, authorize) are sent directly and fail with `NotConnectedError` offline.
    """

    subprotocol: ClassVar[str]

    def __init__(
        self,
        *,
        url: str,
        station_id: str,
        password: str | None = None,
        stats: SimulationStats | None = None,
        call_timeout_s: float = 30.0,
        validate_messages: bool = True,
    ) -> None:
        self.station_id = station_id
        self.url = f"{url.rstrip('/')}/{station_id}"
        self.password = password
        self.stats = stats if stats is not None else SimulationStats()
        self.call_timeout_s = call_timeout_s
        self.validate_messages = validate_messages
        self.outbox: deque[Outgoing] = deque()
        self._outbox_changed = asyncio.Event()
        self._online = asyncio.Event()  # connected and BootNotification accepted
        self._closed = asyncio.Event()
        self._lost: asyncio.Future[None] | None = None  # the current connection's end
        self._client: Any = None
        self._socket: ClientConnection | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def online(self) -> bool:
        return self._online.is_set()

    def _make_client(self, socket: ClientConnection) -> Any:
        raise NotImplementedError

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[None]:
        """Open the socket (subprotocol, Basic auth); answer the CSMS's CALLs inside the block."""
        headers = {}
        if self.password is not None:
            secret = base64.b64encode(f"{self.station_id}:{self.password}".encode()).decode()
            headers["Authorization"] = f"Basic {secret}"
        async with connect(
            self.url,
            subprotocols=[Subprotocol(self.subprotocol)],
            additional_headers=headers,
            open_timeout=self.call_timeout_s,
            ping_interval=None,
        ) as socket:
            if socket.subprotocol != self.subprotocol:
                raise ConnectionError(
                    f"{self.station_id}: server chose subprotocol {socket.subprotocol!r},"
                    f" expected {self.subprotocol!r}"
                )
            self._socket = socket
            self._client = self._make_client(socket)
            self._closed.clear()
            self._lost = asyncio.get_running_loop().create_future()
            reader = asyncio.create_task(self._read(self._client))
            sender = asyncio.create_task(self._drain_outbox())
            try:
                yield
            finally:
                self._online.clear()
                self._client = None
                self._socket = None
                for task in (reader, sender, *self._tasks):
                    task.cancel()
                await asyncio.gather(reader, sender, *self._tasks, return_exceptions=True)

    async def close(self) -> None:
        """Close the socket (as a reboot or a lost link would); the run loop reconnects."""
        if self._socket is not None:
            await self._socket.close()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    async def _read(self, client: Any) -> None:
        try:
            await client.start()
        except ConnectionClosed:
            pass
        finally:
            self._online.clear()
            self._closed.set()
            if self._lost is not None and not self._lost.done():
                self._lost.set_result(None)

    def spawn(self, coro: Any) -> None:
        """Run an action the CSMS triggered (from an `@after` hook), owned by this connection."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.stats.errors += 1
            log.error("%s: triggered action failed", self.station_id, exc_info=task.exception())

    async def call(self, payload: Any) -> Any:
        """Send one CALL and return its CALLRESULT; CALLERRORs raise `OCPPError`."""
        client, lost = self._client, self._lost
        if client is None or lost is None:
            raise NotConnectedError(f"{self.station_id} is not connected")
        action = type(payload).__name__
        # The ocpp package waits out its response timeout when the socket dies mid-call: race it
        # against the connection's end instead.
        calling = asyncio.ensure_future(
            client.call(payload, suppress=False, skip_schema_validation=not self.validate_messages)
        )
        try:
            await asyncio.wait((calling, lost), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not calling.done():
                calling.cancel()
        if not calling.done() or calling.cancelled():
            raise NotConnectedError(f"{self.station_id}: connection lost during {action}")
        try:
            result = calling.result()
        except OCPPError:
            self.stats.errors += 1
            raise
        self.stats.sent(action)
        return result

    def enqueue(self, item: Outgoing) -> Outgoing:
        self.outbox.append(item)
        self._outbox_changed.set()
        return item

    async def flush(self) -> None:
        """Wait until every queued transaction message has been answered (or dropped)."""
        while self.outbox:
            await asyncio.wait([self.outbox[-1].done])

    async def _drain_outbox(self) -> None:
        while True:
            await self._online.wait()
            if not self.outbox:
                self._outbox_changed.clear()
                await self._outbox_changed.wait()
                continue
            item = self.outbox[0]
            try:
                result = await self.call(item.build())
            except (ConnectionClosed, NotConnectedError):
                await self._closed.wait()  # keep the item for the next connection
                return
            except TimeoutError:
                item.attempts += 1
                self.stats.errors += 1
                if item.attempts < MAX_ATTEMPTS:
                    continue
                log.warning(
                    "%s: dropping %s after %d timeouts", self.station_id, item.action, item.attempts
                )
                self._finish(item, error=TimeoutError(f"{item.action}: no answer"))
            except OCPPError as exc:  # the CSMS refused it: resending will not help
                log.warning("%s: %s refused: %s", self.station_id, item.action, exc)
                self._finish(item, error=exc)
            else:
                if item.on_result is not None:
                    item.on_result(result)
                self._finish(item, result=result)

    def _finish(
        self, item: Outgoing, *, result: Any = None, error: Exception | None = None
    ) -> None:
        self.outbox.popleft()
        if item.done.done():
            return
        if error is not None:
            item.done.set_exception(error)
            item.done.exception()  # mark retrieved: nobody may be waiting
        else:
            item.done.set_result(result)
