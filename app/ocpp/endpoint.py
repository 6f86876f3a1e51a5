"""`/ocpp/{station_id}`: the handshake (credentials, subprotocol) and the connection lifecycle."""

import logging
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from app.db.engine import SessionFactory
from app.domain.enums import OcppVersion
from app.events import EventBus
from app.ocpp.auth import StationAuthenticator
from app.ocpp.base import HandlerContext
from app.ocpp.connection import StationConnection
from app.ocpp.message_log import MessageLogWriter
from app.ocpp.registry import StationRegistry
from app.services import stations
from app.settings import Settings

log = logging.getLogger(__name__)

# Newest first: the server picks the newest version both sides speak.
SUPPORTED_VERSIONS = (OcppVersion.V201, OcppVersion.V16)
_STATION_ID = re.compile(r"^[A-Za-z0-9*\-_.:+|@]{1,48}$")
CLOSE_PROTOCOL_ERROR = 1002


def negotiate(offered: Sequence[str]) -> OcppVersion | None:
    for version in SUPPORTED_VERSIONS:
        if version.value in offered:
            return version
    return None


class OcppServer:
    """The OCPP endpoint: an ASGI app for WebSocket scopes, and an async context manager that
    runs its background work (the message-log writer) for the app's lifespan."""

    def __init__(
        self,
        *,
        settings: Settings,
        session_factory: SessionFactory,
        bus: EventBus,
        registry: StationRegistry,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self._session_factory = session_factory
        self._bus = bus
        self.message_log = MessageLogWriter(session_factory=session_factory)
        self.authenticator = StationAuthenticator(
            session_factory=session_factory, allow_unknown=settings.ocpp_allow_unknown_stations
        )
        self._context = HandlerContext(
            session_factory=session_factory,
            bus=bus,
            heartbeat_interval_s=settings.ocpp_heartbeat_interval_s,
            max_frame_bytes=settings.ocpp_max_frame_bytes,
        )

    async def __aenter__(self) -> Self:
        await self.message_log.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.registry.close_all()
        await self.message_log.stop()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        station_id = str(scope.get("path_params", {}).get("station_id", ""))
        if not _STATION_ID.match(station_id):
            await self._deny(websocket, PlainTextResponse("invalid station id", status_code=400))
            return
        authorization = websocket.headers.get("authorization")
        if not await self.authenticator.authenticate(station_id, authorization):
            await self._deny(
                websocket,
                PlainTextResponse(
                    "unauthorized",
                    status_code=401,
                    headers={"WWW-Authenticate": 'Basic realm="chargenet"'},
                ),
            )
            return
        version = negotiate(scope.get("subprotocols", []))
        if version is None:
            # OCPP-J: complete the handshake without a subprotocol, then close.
            await websocket.accept()
            await websocket.close(code=CLOSE_PROTOCOL_ERROR, reason="no common OCPP subprotocol")
            return
        await websocket.accept(subprotocol=version.value)
        await self._serve(websocket, station_id, version)

    async def _deny(self, websocket: WebSocket, response: Response) -> None:
        if "websocket.http.response" in websocket.scope.get("extensions", {}):
            await websocket.send_denial_response(response)
        else:  # servers without the denial extension can only refuse with 403
            await websocket.close()

    async def _serve(self, websocket: WebSocket, station_id: str, version: OcppVersion) -> None:
        connection = StationConnection(
            websocket=websocket,
            station_id=station_id,
            version=version,
            context=self._context,
            message_log=self.message_log,
        )
        previous = await self.registry.attach(connection)
        if previous is not None:
            log.info("station %s reconnected: closing its previous connection", station_id)
            await previous.close(code=1000, reason="replaced by a newer connection")
        try:
            await stations.record_connected(
                session_factory=self._session_factory,
                bus=self._bus,
                station_id=station_id,
                ocpp_version=version,
                at=datetime.now(UTC),
            )
            log.info("station %s connected (%s)", station_id, version.value)
            await connection.serve()
        finally:
            if await self.registry.detach(connection):
                await stations.record_disconnected(
                    session_factory=self._session_factory,
                    bus=self._bus,
                    station_id=station_id,
                    at=datetime.now(UTC),
                )
                log.info("station %s disconnected", station_id)
