"""Closing a connection whose peer is already gone must not raise into the caller.

A reconnect can arrive before the old socket's disconnect has been read; the endpoint then
closes the old connection, and that must never take the new one down with it."""

from typing import Any

from starlette.websockets import WebSocket, WebSocketState

from app.db.engine import SessionFactory
from app.domain.enums import OcppVersion
from app.events import InProcessEventBus
from app.ocpp.base import HandlerContext
from app.ocpp.connection import StationConnection
from app.ocpp.message_log import MessageLogWriter


class DeadPeer:
    """An ASGI `send` whose peer vanished after the handshake (what uvicorn reports then)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        if message["type"] != "websocket.accept":
            raise OSError("client disconnected")
        self.sent.append(message)


async def _receive() -> dict[str, Any]:
    return {"type": "websocket.connect"}


async def test_closing_a_connection_whose_peer_is_gone_does_not_raise(
    session_factory: SessionFactory,
) -> None:
    peer = DeadPeer()
    websocket = WebSocket(
        {"type": "websocket", "path": "/ocpp/CS-X", "headers": []}, _receive, peer
    )
    await websocket.accept(subprotocol="ocpp1.6")
    assert websocket.application_state == WebSocketState.CONNECTED
    connection = StationConnection(
        websocket=websocket,
        station_id="CS-X",
        version=OcppVersion.V16,
        context=HandlerContext(
            session_factory=session_factory, bus=InProcessEventBus(), heartbeat_interval_s=60
        ),
        message_log=MessageLogWriter(session_factory=session_factory),
    )
    await connection.close(code=1000, reason="replaced by a newer connection")
    assert [m["type"] for m in peer.sent] == ["websocket.accept"]
