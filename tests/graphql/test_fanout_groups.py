"""Fan-out groups write for their members: a member whose socket stalls, or fails, costs the
others nothing; it catches up on its own (its own bounded queue) or ends with its error."""

import asyncio
import json
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import pytest
from starlette.websockets import WebSocketDisconnect
from strawberry.http.exceptions import WebSocketDisconnected

from app.events import InProcessEventBus, topics
from app.graphql.context import Context
from app.graphql.fanout import Delivery, FanoutHub, Request, _sender, eager
from app.graphql.schema import schema
from app.graphql.types.events import EvseStatusChanged
from tests.graphql.test_fanout import LOCATION, QUERY

CONTEXT = cast(Context, object())
TOPIC = topics.evse_status(1)
Send = Callable[[str], Coroutine[Any, Any, None]]


def request() -> Request:
    return Request(QUERY, "Watch", json.dumps({"ids": [LOCATION]}, separators=(",", ":")))


def event(n: int) -> dict[str, Any]:
    return topics.evse_status_event(
        location_id=1, station_id="CS-1", evse_id=n, evse_uid=f"CS-1*{n}", status="CHARGING",
        previous_status="AVAILABLE", error_code=None,
        changed_at=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
    )  # fmt: skip


def root(topic: str, payload: dict[str, Any]) -> EvseStatusChanged:
    return EvseStatusChanged.from_payload(payload)


def uid(text: str) -> str:
    uid: str = json.loads(text)["data"]["evseStatusChanged"]["evseUid"]
    return uid


class Members:
    """Subscribers of one group on one bus, each a task running `Delivery.forward`."""

    def __init__(self) -> None:
        self.bus = InProcessEventBus()
        self.hub = FanoutHub(schema)
        self.tasks: list[asyncio.Task[None]] = []

    async def add(self, send: Send, *, max_queue: int = 1000) -> asyncio.Task[None]:
        opened = asyncio.Event()

        async def member() -> None:
            delivery = Delivery(self.hub, request(), CONTEXT, send)
            async with self.bus.subscribe(TOPIC, max_queue=max_queue) as events:
                opened.set()
                await delivery.forward(events, visibility=None, root=root)

        task = asyncio.create_task(member())
        self.tasks.append(task)
        async with asyncio.timeout(5):
            await opened.wait()
        return task

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


class Received:
    """What one member's socket got, with a way to wait until it has `n` messages."""

    def __init__(self) -> None:
        self.uids: list[str] = []
        self._changed = asyncio.Condition()

    async def add(self, text: str) -> None:
        async with self._changed:
            self.uids.append(uid(text))
            self._changed.notify_all()

    async def until(self, n: int) -> None:
        async with asyncio.timeout(5), self._changed:
            await self._changed.wait_for(lambda: len(self.uids) >= n)


async def test_a_member_whose_socket_stalls_holds_up_nobody_and_catches_up_in_order() -> None:
    members = Members()
    unblocked = asyncio.Event()
    stalled, quick = Received(), Received()

    async def stalling(text: str) -> None:
        if not stalled.uids:
            await unblocked.wait()  # the client does not read: the write waits
        await stalled.add(text)

    try:
        await members.add(stalling)
        await members.add(quick.add)
        for n in range(1, 6):
            await members.bus.publish(TOPIC, event(n))
        await quick.until(5)  # everything, while the other's first write still waits
        assert quick.uids == [f"CS-1*{n}" for n in range(1, 6)]
        assert stalled.uids == []
        unblocked.set()
        await stalled.until(5)
        assert stalled.uids == quick.uids  # every event once, in order
        # Caught up: the group writes for it again.
        await members.bus.publish(TOPIC, event(6))
        await stalled.until(6)
        await quick.until(6)
        assert stalled.uids == quick.uids == [f"CS-1*{n}" for n in range(1, 7)]
    finally:
        await members.close()
    assert len(members.hub) == 0


async def test_a_stalled_member_loses_only_its_own_oldest_events() -> None:
    members = Members()
    unblocked, writing = asyncio.Event(), asyncio.Event()
    stalled, quick = Received(), Received()

    async def stalling(text: str) -> None:
        if not writing.is_set():
            writing.set()
            await unblocked.wait()
        await stalled.add(text)

    try:
        await members.add(stalling, max_queue=2)
        await members.add(quick.add, max_queue=2)
        for n in range(1, 7):
            await members.bus.publish(TOPIC, event(n))
            await quick.until(n)  # the group wrote it before the next arrives
        assert writing.is_set()
        unblocked.set()
        await stalled.until(3)
    finally:
        await members.close()
    assert quick.uids == [f"CS-1*{n}" for n in range(1, 7)]
    # The first write finishes; of the five that waited behind it, the newest two are kept.
    assert stalled.uids == ["CS-1*1", "CS-1*5", "CS-1*6"]
    assert members.bus.subscriber_count(TOPIC) == 0


async def test_a_member_whose_socket_fails_ends_with_the_error_and_the_others_go_on() -> None:
    members = Members()
    quick = Received()

    async def broken(text: str) -> None:
        raise ConnectionResetError("gone")

    try:
        failing = await members.add(broken)
        await members.add(quick.add)
        await members.bus.publish(TOPIC, event(1))
        async with asyncio.timeout(5):
            with pytest.raises(ConnectionResetError, match="gone"):
                await failing
        await members.bus.publish(TOPIC, event(2))
        await quick.until(2)
        assert quick.uids == ["CS-1*1", "CS-1*2"]
        assert members.bus.subscriber_count(TOPIC) == 1  # the failed one left the bus too
    finally:
        await members.close()


async def test_eager_runs_a_coroutine_until_it_waits_and_returns_the_rest() -> None:
    steps: list[str] = []
    go = asyncio.Event()

    async def quick() -> None:
        steps.append("quick")

    async def waits() -> None:
        steps.append("before")
        await go.wait()
        steps.append("after")

    assert eager(quick()) is None
    assert steps == ["quick"]
    rest = eager(waits())
    assert rest is not None
    assert steps == ["quick", "before"]  # ran in the caller, up to the wait
    finishing = asyncio.create_task(rest)
    await asyncio.sleep(0)
    assert not finishing.done()
    go.set()
    async with asyncio.timeout(5):
        await finishing
    assert steps == ["quick", "before", "after"]


async def test_eager_rest_cancelled_closes_the_coroutine() -> None:
    cleaned = asyncio.Event()

    async def waits() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.set()

    rest = eager(waits())
    assert rest is not None
    task = asyncio.create_task(rest)
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned.is_set()


class _Socket:
    """The part of Starlette's WebSocket a sender uses; `closed` makes it fail as on a
    disconnect."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed = False

    async def send_text(self, text: str) -> None:
        if self.closed:
            raise WebSocketDisconnect(1006)
        self.sent.append(text)


async def test_a_sender_writes_the_message_only_while_its_operation_is_live() -> None:
    socket, operation = _Socket(), object()
    live: dict[str, object] = {"1": operation}
    send = _sender(
        SimpleNamespace(ws=socket), '{"id":"1","type":"next","payload":', live, "1", operation
    )
    await send('{"data":1}')
    live["1"] = object()  # completed, and the id reused by a new operation
    await send('{"data":2}')
    del live["1"]
    await send('{"data":3}')
    assert [json.loads(text) for text in socket.sent] == [
        {"id": "1", "type": "next", "payload": {"data": 1}}
    ]


async def test_a_sender_on_a_closed_socket_raises_disconnected() -> None:
    socket, operation = _Socket(), object()
    send = _sender(SimpleNamespace(ws=socket), '{"payload":', {"1": operation}, "1", operation)
    socket.closed = True
    with pytest.raises(WebSocketDisconnected):
        await send("{}")
