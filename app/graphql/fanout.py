"""Live fan-out: equal subscriptions share one execution and one JSON encoding per event.

A subscription over a WebSocket normally executes every event once per subscriber (graphql-core
per-event execution, Strawberry's result hooks, JSON): ~0.3 ms of CPU per subscriber and event.
Subscribers of the same document with the same variables, allowed to see the same things, all
get the same payload: here the first of them to take an event executes it, the others send the
very same text.

How a subscription resolver adopts it (see `subscriptions/evse_status.py`): check arguments and
permissions as usual, open its bus subscription as usual, then, when `current_delivery()` is not
None, `await delivery.forward(events, visibility=..., root=...)` instead of yielding.
`visibility` is whatever decides what the caller may see of the payload: None for public data,
an organisation id for operator-scoped data, a driver id for a driver's own. Only subscribers
with an equal `visibility` share a payload, so no resolver below a shared subscription may read
anything of the context beyond what `visibility` stands for. Each subscriber keeps its own bus
subscription and its own task, so ordering, back-pressure (the bus drops a slow subscriber's
oldest events) and cancellation stay per subscriber; only the work per event is shared.
"""

import copy
import json
import logging
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterable, Awaitable, Callable, Hashable, Iterator
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

from app.graphql.context import Context
from app.graphql.extensions import should_mask

log = logging.getLogger(__name__)

RECENT_EVENTS = 256
"""Payloads a group keeps: a subscriber further behind than this renders its own copy."""

Event = tuple[str, dict[str, Any]]
Root = Callable[[str, dict[str, Any]], object | None]
"""(topic, payload) -> the subscription field's value for this event; None skips it."""


@dataclass(frozen=True, slots=True)
class Request:
    """A subscription as the client sent it; variables as canonical JSON (equal = equal)."""

    query: str
    operation_name: str | None
    variables: str


class _Group:
    """Subscribers of one request with one visibility: each event is executed once."""

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
        self._recent: OrderedDict[int, tuple[Event, str | None]] = OrderedDict()
        self.members = 0

    async def render(self, event: Event, root: Root) -> str | None:
        """The `payload` JSON for this event (None: skip it), worked out by the first member
        that asks: `root` gives the subscription field's value, which is then executed."""
        hit = self._recent.get(id(event))
        if hit is not None and hit[0] is event:
            return hit[1]
        value = root(*event)
        text: str | None = None
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
        group.members += 1
        try:
            yield group
        finally:
            group.members -= 1
            if group.members == 0:
                del self._groups[key]


class Delivery:
    """Where one subscriber's payloads go: its operation id on its WebSocket, as its protocol's
    message (`next` or `data`)."""

    def __init__(
        self,
        hub: FanoutHub,
        request: Request,
        context: Context,
        send: Callable[[str], Awaitable[None]],
    ) -> None:
        self._hub = hub
        self._request = request
        self._context = context
        self._send = send

    async def forward(
        self,
        events: AsyncIterable[Event],
        *,
        visibility: Hashable,
        root: Root,
    ) -> None:
        """Send each event of `events` as this subscription's payload until cancelled.
        `root` maps an event to the subscription field's value; None skips the event."""
        with self._hub.join(self._request, visibility, self._context) as group:
            async for event in events:
                text = await group.render(event, root)
                if text is not None:
                    await self._send(text)


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


def _sender(websocket: Any, prefix: str) -> Callable[[str], Awaitable[None]]:
    """Sends `prefix + payload + "}"`: the message with the payload JSON spliced in unparsed."""
    adapter = cast(ASGIWebSocketAdapter, websocket)

    async def send(payload: str) -> None:
        try:
            await adapter.ws.send_text(f"{prefix}{payload}}}")
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
            _DELIVERY.set(Delivery(hub, request, self.context, _sender(self.websocket, prefix)))
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
            _DELIVERY.set(Delivery(hub, request, self.context, _sender(self.websocket, prefix)))
        await super().handle_async_results(operation_id, query, operation_name, variables)
