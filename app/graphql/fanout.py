"""Live fan-out: equal subscriptions share one execution, one JSON encoding and one writer.

A subscription over a WebSocket normally executes every event once per subscriber (graphql-core
per-event execution, Strawberry's result hooks, JSON): ~0.3 ms of CPU per subscriber and event.
Subscribers of the same document with the same variables, allowed to see the same things, all
get the same payload: here they form a group, whose task executes each event once and writes
the very same text to every member's socket, without waking each member's task.

How a subscription resolver adopts it (see `subscriptions/evse_status.py`): check arguments and
permissions as usual, open its bus subscription as usual, then, when `current_delivery()` is not
None, `await delivery.forward(subscription, visibility=..., root=...)` instead of yielding.
`visibility` is whatever decides what the caller may see of the payload: None for public data,
an organisation id for operator-scoped data, a driver id for a driver's own. Only subscribers
with an equal `visibility` share a payload, so no resolver below a shared subscription may read
anything of the context beyond what `visibility` stands for.

Each subscriber keeps its own bus subscription (its bounded queue: a subscriber that falls
behind loses its own oldest events, nobody else's), its order and its cancellation. The group
drains the members' queues in one pass per burst of events; a member whose socket does not take
a message at once (the client is not reading) is handed to its own task, which finishes that
send and catches up while the group goes on with the others.
"""

import asyncio
import copy
import json
import logging
import uuid
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Hashable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from inspect import isawaitable
from typing import Any, cast

from graphql import ExecutionResult, GraphQLError, parse
from graphql.execution import Executor, execute_subscription_event
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.schema import Schema
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler

from app.events import Subscription
from app.graphql.context import Context
from app.graphql.extensions import should_mask

log = logging.getLogger(__name__)

RECENT_EVENTS = 256
"""Payloads a group keeps: a subscriber further behind than this renders its own copy."""

Event = tuple[str, dict[str, Any]]
Root = Callable[[str, dict[str, Any]], object | None]
"""(topic, payload) -> the subscription field's value for this event; None skips it."""
Send = Callable[[str], Coroutine[Any, Any, None]]
"""Writes one payload's message to one subscriber's socket."""


@dataclass(frozen=True, slots=True)
class Request:
    """A subscription as the client sent it; variables as canonical JSON (equal = equal)."""

    query: str
    operation_name: str | None
    variables: str


class _Member:
    """One subscriber of a group: its bus subscription (its own bounded queue, so a slow
    subscriber loses its oldest events and nobody else's), and how to reach its socket."""

    __slots__ = ("attention", "busy", "error", "rest", "send", "subscription")

    def __init__(self, subscription: Subscription, send: Send) -> None:
        self.subscription = subscription
        self.send = send
        self.busy = False
        """Its own task sends for it (a send that could not finish at once, or an error):
        the group's passes skip it until it has caught up."""
        self.rest: Coroutine[Any, Any, None] | None = None
        self.error: BaseException | None = None
        self.attention = asyncio.Event()


class _Group:
    """Subscribers of one request with one visibility: each event is executed once, and one
    task writes it to every member whose socket takes it at once."""

    def __init__(self, schema: Schema, request: Request, context: Context) -> None:
        executor_class = cast(type[Executor[Any]], schema.execution_context_class)
        built = executor_class.build(
            schema._schema,
            parse(request.query),
            # A copy: a connection's context is reused by its operations (fresh loaders each).
            context_value=copy.copy(context),
            raw_variable_values=json.loads(request.variables),
            operation_name=request.operation_name,
        )
        if isinstance(built, list):  # cannot happen: the subscriber's own stream validated it
            raise ValueError(f"subscription variables do not apply: {built}")
        self._executor = built
        self._root: Root | None = None
        self.joined = 0
        self._recent: OrderedDict[int, tuple[Event, str | None]] = OrderedDict()
        self._members: dict[_Member, None] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._members)

    def add(self, member: _Member, root: Root) -> None:
        self._root = self._root or root
        self._members[member] = None
        member.subscription.listener = self._wake.set
        self._wake.set()  # events may have arrived between its bus subscription and now
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="fanout-group")
            self._task.add_done_callback(self._stopped)

    def remove(self, member: _Member) -> asyncio.Task[None] | None:
        """Forget `member`; with the last one gone, the group's task is cancelled and returned."""
        member.subscription.listener = None
        self._members.pop(member, None)
        if self._members or self._task is None:
            return None
        task, self._task = self._task, None
        task.cancel()
        return task

    def rendered(self, event: Event) -> tuple[bool, str | None]:
        """(True, payload) when this event was rendered already, without awaiting."""
        hit = self._recent.get(id(event))
        if hit is not None and hit[0] is event:
            return True, hit[1]
        return False, None

    async def render(self, event: Event) -> str | None:
        """The `payload` JSON for this event (None: skip it), executed once per event."""
        known, text = self.rendered(event)
        if known:
            return text
        assert self._root is not None  # set by the first member
        value = self._root(*event)
        text = None
        if value is not None:
            per_event = self._executor.build_per_event_executor(value)
            result: Any = execute_subscription_event(per_event)
            if isawaitable(result):
                result = await result
            text = encode_payload(cast(ExecutionResult, result))
        self._recent[id(event)] = (event, text)  # holds the event, so its id stays its own
        if len(self._recent) > RECENT_EVENTS:
            self._recent.popitem(last=False)
        return text

    async def _run(self) -> None:
        """Each time events arrive: every member not busy gets its waiting events, in order."""
        # The event rendered last, and its text: a thousand members read the same one in a
        # pass, and looking it up in `_recent` for each showed in profiles.
        last: Event | None = None
        last_text: str | None = None
        members = self._members
        while True:
            await self._wake.wait()
            self._wake.clear()
            for member in tuple(members):
                if member.busy:
                    continue
                take = member.subscription.get_nowait
                while (event := take()) is not None:
                    if event is last:
                        text = last_text
                    else:
                        known, text = self.rendered(event)  # no coroutine if rendered already
                        if not known:
                            text = await self.render(event)
                            if member not in members:  # it left while this one rendered
                                break
                        last, last_text = event, text
                    if text is None:
                        continue
                    try:
                        member.rest = eager(member.send(text))
                    except Exception as error:  # its own task raises it
                        member.error = error
                    if member.rest is not None or member.error is not None:
                        member.busy = True
                        member.attention.set()
                        break

    def _stopped(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        log.error("a fan-out group stopped", exc_info=error)
        for member in self._members:  # each member's task raises it: no one waits forever
            member.error = error or RuntimeError("the fan-out group stopped")
            member.busy = True
            member.attention.set()

    async def serve(self, member: _Member) -> None:
        """The member's own task: finish a send the group could not, catch up on the events
        that waited meanwhile, and hand the member back to the group; raise its send errors."""
        while True:
            await member.attention.wait()
            member.attention.clear()
            if member.error is not None:
                raise member.error
            if member.rest is not None:
                rest, member.rest = member.rest, None
                await rest
            while (event := member.subscription.get_nowait()) is not None:
                text = await self.render(event)
                if text is not None:
                    await member.send(text)
            member.busy = False  # nothing waits: the group's passes have it again


def eager(coroutine: Coroutine[Any, Any, None]) -> Coroutine[Any, Any, None] | None:
    """Run `coroutine` in the calling task until it finishes (None) or must wait; then return
    the rest, to be awaited by another task. A socket send almost always finishes without
    waiting (it waits only while the client does not read): one task can write to a thousand
    sockets without a task switch per socket, and a slow one costs nobody else anything.
    (Python 3.12's eager tasks do the same for a whole task.)"""
    try:
        waiting = coroutine.send(None)
    except StopIteration:
        return None
    return _resume(coroutine, waiting)


async def _resume(coroutine: Coroutine[Any, Any, None], waiting: object) -> None:
    """Drive `coroutine` on, as a task would, from a suspension at `waiting` (a future, or None
    for a bare yield)."""
    try:
        while True:
            if asyncio.isfuture(waiting):
                await asyncio.wait([waiting])  # done or failed: the coroutine reads which
            else:
                await asyncio.sleep(0)
            waiting = coroutine.send(None)
    except StopIteration:
        return
    finally:
        coroutine.close()  # cancelled while waiting: the coroutine's own cleanup runs


def encode_payload(result: ExecutionResult) -> str:
    """`{"data": ..., "errors": [...]}` as Strawberry sends it, unexpected errors masked as
    MaskUnexpectedErrors masks them (logged here with the request id)."""
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [_masked(error).formatted for error in result.errors]
    return json.dumps(payload, separators=(",", ":"))


def _masked(error: GraphQLError) -> GraphQLError:
    if not should_mask(error):
        return error
    request_id = uuid.uuid4().hex
    original = error.original_error
    log.error(
        "unexpected error in a shared subscription event, request %s",
        request_id,
        exc_info=(type(original), original, original.__traceback__) if original else None,
    )
    return GraphQLError(
        "Unexpected error.",
        nodes=error.nodes,
        path=error.path,
        extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
    )


class FanoutHub:
    """The groups of one GraphQL app, created with their first member, gone with the last."""

    def __init__(self, schema: Schema) -> None:
        self._schema = schema
        self._groups: dict[tuple[Request, Hashable], _Group] = {}

    def __len__(self) -> int:
        return len(self._groups)

    @contextmanager
    def join(self, request: Request, visibility: Hashable, context: Context) -> Iterator[_Group]:
        key = (request, visibility)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(self._schema, request, context)
        group.joined += 1
        try:
            yield group
        finally:
            group.joined -= 1
            if group.joined == 0:
                del self._groups[key]


class Delivery:
    """Where one subscriber's payloads go: its operation id on its WebSocket, as its protocol's
    message (`next` or `data`)."""

    def __init__(
        self,
        hub: FanoutHub,
        request: Request,
        context: Context,
        send: Send,
    ) -> None:
        self._hub = hub
        self._request = request
        self._context = context
        self._send = send

    async def forward(self, events: Subscription, *, visibility: Hashable, root: Root) -> None:
        """Send each event of `events` (this subscriber's bus subscription) as this
        subscription's payload until cancelled. `root` maps an event to the subscription
        field's value (None skips the event); every member of a group passes the same."""
        with self._hub.join(self._request, visibility, self._context) as group:
            member = _Member(events, self._send)
            group.add(member, root)
            try:
                await group.serve(member)
            finally:
                group.remove(member)


_DELIVERY: ContextVar[Delivery | None] = ContextVar("fanout_delivery", default=None)


def current_delivery() -> Delivery | None:
    """This operation's delivery, when it runs in a WebSocket handler below (else None)."""
    return _DELIVERY.get()


def _request(query: str | None, operation_name: str | None, variables: Any) -> Request | None:
    try:
        text = json.dumps(variables or {}, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        return None
    return Request(query, operation_name, text) if isinstance(query, str) else None


def _sender(websocket: Any, prefix: str, live: Mapping[str, object], key: str, own: object) -> Send:
    """Sends `prefix + payload + "}"`: the message with the payload JSON spliced in unparsed.
    Nothing once the operation is over (`live[key]` no longer `own`): the group's task may
    still hold an event for a subscriber whose `complete` arrived but whose task has not yet
    ended. (A mapping read, not a callback: this runs once per subscriber and event.)"""
    ws = cast(ASGIWebSocketAdapter, websocket).ws

    async def send(payload: str) -> None:
        if live.get(key) is not own:
            return
        try:
            await ws.send_text(f"{prefix}{payload}}}")
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc

    return send


class FanoutTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws, with a delivery for each operation's task."""

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        request = _request(operation.query, operation.operation_name, operation.variables)
        hub: FanoutHub | None = getattr(self.view, "fanout", None)
        if request is not None and hub is not None:
            prefix = f'{{"id":{json.dumps(operation.id)},"type":"next","payload":'
            send = _sender(self.websocket, prefix, self.operations, operation.id, operation)
            _DELIVERY.set(Delivery(hub, request, self.context, send))
        await super().run_operation(operation)


class FanoutWSHandler(BaseGraphQLWSHandler[Context, None]):
    """graphql-ws (the older protocol), with a delivery for each operation's task."""

    async def handle_async_results(
        self,
        operation_id: str,
        query: str,
        operation_name: str | None,
        variables: dict[str, object] | None,
    ) -> None:
        request = _request(query, operation_name, variables)
        hub: FanoutHub | None = getattr(self.view, "fanout", None)
        if request is not None and hub is not None:
            prefix = f'{{"type":"data","id":{json.dumps(operation_id)},"payload":'
            send = _sender(self.websocket, prefix, self.tasks, operation_id, asyncio.current_task())
            _DELIVERY.set(Delivery(hub, request, self.context, send))
        await super().handle_async_results(operation_id, query, operation_name, variables)
