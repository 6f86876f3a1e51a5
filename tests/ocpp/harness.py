"""A 1.6 station's OCPP handlers driven without a WebSocket, for handler tests."""

import json
from typing import Any

from app.db.engine import SessionFactory
from app.events import InProcessEventBus
from app.ocpp.base import HandlerContext
from app.ocpp.v16.handlers import StationHandlers16
from app.services.group_commit import GroupCommit


class CapturedConnection:
    """Stands in for the WebSocket: keeps what the handlers send, parsed."""

    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))


def handlers16(
    session_factory: SessionFactory, group: GroupCommit | None, station_id: str
) -> tuple[StationHandlers16, CapturedConnection]:
    """A 1.6 station's handlers on an in-process bus, writing alone or through `group`."""
    context = HandlerContext(
        session_factory=session_factory,
        bus=InProcessEventBus(),
        heartbeat_interval_s=60,
        group=group,
    )
    captured = CapturedConnection()
    return StationHandlers16(station_id, captured, context, 5.0), captured
