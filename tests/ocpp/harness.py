"""A station's OCPP handlers (1.6 or 2.0.1) driven without a WebSocket, for handler tests:
`route_message` with a captured send, as mobilityhouse/ocpp's own tests do."""

import json
from typing import Any

from app.db.engine import SessionFactory
from app.events import EventBus, InProcessEventBus
from app.ocpp.base import HandlerContext
from app.ocpp.v16.handlers import StationHandlers16
from app.ocpp.v201.handlers import StationHandlers201
from app.services.group_commit import GroupCommit


class CapturedConnection:
    """Stands in for the WebSocket: keeps what the handlers send, parsed."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))


def _context(
    session_factory: SessionFactory,
    group: GroupCommit | None,
    bus: EventBus | None,
    heartbeat_interval_s: int,
) -> HandlerContext:
    return HandlerContext(
        session_factory=session_factory,
        bus=bus if bus is not None else InProcessEventBus(),
        heartbeat_interval_s=heartbeat_interval_s,
        group=group,
    )


def handlers16(
    session_factory: SessionFactory,
    group: GroupCommit | None,
    station_id: str,
    *,
    bus: EventBus | None = None,
    heartbeat_interval_s: int = 60,
) -> tuple[StationHandlers16, CapturedConnection]:
    """A 1.6 station's handlers on `bus` (a fresh in-process one if None), writing alone or
    through `group`."""
    context = _context(session_factory, group, bus, heartbeat_interval_s)
    captured = CapturedConnection()
    return StationHandlers16(station_id, captured, context, 5.0), captured


def handlers201(
    session_factory: SessionFactory,
    group: GroupCommit | None,
    station_id: str,
    *,
    bus: EventBus | None = None,
    heartbeat_interval_s: int = 60,
) -> tuple[StationHandlers201, CapturedConnection]:
    """A 2.0.1 station's handlers, as `handlers16`."""
    context = _context(session_factory, group, bus, heartbeat_interval_s)
    captured = CapturedConnection()
    return StationHandlers201(station_id, captured, context, 5.0), captured
