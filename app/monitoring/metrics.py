"""Prometheus metrics and the `/metrics` route: connections, OCPP traffic, command latency,
open alerts and live subscriptions. One registry per app (tests build many apps)."""

import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from app.db.engine import SessionFactory
from app.domain.enums import MessageDirection, MessageKind
from app.services import alerts
from app.services.message_log import LoggedFrame

MAX_PENDING_CALLS = 10_000  # CALLs awaiting an answer we time; unanswered ones age out
MAX_ACTIONS = 200  # stations choose action names: bound the label values


class LogCounts(Protocol):
    """What the OCPP message log's writer counts (app.ocpp.message_log.MessageLogWriter)."""

    @property
    def written(self) -> int: ...

    @property
    def dropped(self) -> int: ...


class _MessageLogCollector(Collector):
    """The writer's own counts, read at scrape time (it keeps them as plain ints)."""

    def __init__(self, counts: LogCounts) -> None:
        self._counts = counts

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(
            "chargenet_ocpp_message_log_written",
            "OCPP frames written to the message log.",
            value=self._counts.written,
        )
        yield CounterMetricFamily(
            "chargenet_ocpp_message_log_dropped",
            "OCPP frames the message log dropped: refused by the database, or the oldest "
            "past OCPP_MESSAGE_LOG_MAX_PENDING unwritten.",
            value=self._counts.dropped,
        )


class Metrics:
    """Holds the collectors; `observe_frame` is hooked into the OCPP message log (every frame
    in and out passes it once), so the hot path costs a few dict operations per frame."""

    def __init__(
        self,
        *,
        session_factory: SessionFactory,
        stations_connected: Callable[[], int],
        active_subscriptions: Callable[[], int],
        message_log: LogCounts | None = None,
    ) -> None:
        self.registry = CollectorRegistry()
        self._session_factory = session_factory
        if message_log is not None:
            self.registry.register(_MessageLogCollector(message_log))
        Gauge(
            "chargenet_stations_connected",
            "Stations with an open OCPP WebSocket on this instance.",
            registry=self.registry,
        ).set_function(lambda: float(stations_connected()))
        Gauge(
            "chargenet_graphql_subscriptions_active",
            "GraphQL subscriptions streaming on this instance.",
            registry=self.registry,
        ).set_function(lambda: float(active_subscriptions()))
        self.messages = Counter(
            "chargenet_ocpp_messages",
            "OCPP frames by direction, action and message type (CALL, CALLRESULT, CALLERROR, "
            "INVALID).",
            ["direction", "action", "result"],
            registry=self.registry,
        )
        self.call_errors = Counter(
            "chargenet_ocpp_callerrors",
            "OCPP CALLERRORs by direction, action and error code.",
            ["direction", "action", "error_code"],
            registry=self.registry,
        )
        self.command_latency = Histogram(
            "chargenet_ocpp_command_latency_seconds",
            "Time from a CALL chargenet sends to the station's answer.",
            ["action"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.open_alerts = Gauge(
            "chargenet_alerts_open",
            "Alerts open or acknowledged, by severity.",
            ["severity"],
            registry=self.registry,
        )
        self._pending: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._actions: set[str] = set()

    def _action(self, action: str | None) -> str:
        if action is None:
            return "unknown"
        if action not in self._actions:
            if len(self._actions) >= MAX_ACTIONS or len(action) > 64:
                return "other"
            self._actions.add(action)
        return action

    def observe_frame(self, frame: LoggedFrame) -> None:
        direction = frame.direction.value
        action = self._action(frame.action)
        self.messages.labels(direction, action, frame.kind.value).inc()
        if frame.kind == MessageKind.CALLERROR:
            self.call_errors.labels(direction, action, frame.error_code or "unknown").inc()
        if frame.unique_id is None:
            return
        key = (frame.station_id, frame.unique_id)
        if frame.kind == MessageKind.CALL and frame.direction == MessageDirection.OUTBOUND:
            self._pending[key] = time.monotonic()
            if len(self._pending) > MAX_PENDING_CALLS:
                self._pending.popitem(last=False)
        elif frame.direction == MessageDirection.INBOUND and frame.kind in (
            MessageKind.CALLRESULT,
            MessageKind.CALLERROR,
        ):
            sent = self._pending.pop(key, None)
            if sent is not None:
                self.command_latency.labels(action).observe(time.monotonic() - sent)

    async def endpoint(self, _: Request) -> Response:
        """`GET /metrics`: the alert gauge is read from the database at scrape time."""
        counts = await alerts.count_open(
            session_factory=self._session_factory, scope=alerts.NETWORK
        )
        for severity, count in counts.items():
            self.open_alerts.labels(severity.value).set(count)
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
