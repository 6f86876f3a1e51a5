"""`/ocpp/{station_id}`: the handshake (credentials, subprotocol) and the connection lifecycle."""

import asyncio
import gc
import logging
import re
from collections.abc import Callable, Sequence
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
from app.ocpp.limits import (
    FailureStore,
    InMemoryFailureStore,
    LockoutPolicy,
    TokenBucket,
    retry_after_header,
)
from app.ocpp.message_log import MessageLogWriter
from app.ocpp.redaction import install_log_filter
from app.ocpp.registry import StationRegistry
from app.services import stations
from app.services.group_commit import GroupCommit
from app.settings import Settings

log = logging.getLogger(__name__)

# Newest first: the server picks the newest version both sides speak.
SUPPORTED_VERSIONS = (OcppVersion.V201, OcppVersion.V16)
_STATION_ID = re.compile(r"^[A-Za-z0-9*\-_.:+|@]{1,48}$")
CLOSE_PROTOCOL_ERROR = 1002
_MAX_BUCKETS = 200_000  # rate-limit state kept for this many stations, least recent dropped
# Database sessions the handshakes (password read, connected / disconnected records) hold
# at once. A reconnect storm of 10,000 queued ~20,000 checkouts for the pool's 30 connections
# (app/db/engine.py: 10 + 20 overflow): those waiting past the pool's 30 s failed (8,986 in
# one storm: handshakes refused, stations left marked online, BootNotifications answered
# InternalError). Queued here they wait without failing, and 10 connections stay for the
# group commit's lanes (8), the message log and the rest. Not fewer: under a storm the event
# loop lags, each holder keeps its slot that much longer, and 5 slots made the storm slower.
HANDSHAKE_DB_SLOTS = 20


def freeze_startup_heap() -> None:
    """Move what startup built (modules, mappers, schemas: ~200,000 objects) out of the cyclic
    collector, once per process. A full collection otherwise walks all of it with the event
    loop stopped (0.1-0.7 s here: every station waits for its answer that long); objects made
    later are collected as before, and the frozen ones are freed by refcount as ever. No
    collection first: it could run finalizers at an arbitrary point of a caller's work."""
    if gc.get_freeze_count() == 0:
        gc.freeze()


def negotiate(offered: Sequence[str]) -> OcppVersion | None:
    for version in SUPPORTED_VERSIONS:
        if version.value in offered:
            return version
    return None


class OcppServer:
    """The OCPP endpoint: an ASGI app for WebSocket scopes, and an async context manager that
    runs its background work (the message-log writer, group commit) for the app's lifespan."""

    def __init__(
        self,
        *,
        settings: Settings,
        session_factory: SessionFactory,
        bus: EventBus,
        registry: StationRegistry,
        failures: FailureStore | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self._session_factory = session_factory
        self._bus = bus
        self.group = GroupCommit(session_factory=session_factory)
        self.message_log = MessageLogWriter(
            session_factory=session_factory,
            write_turn=self.group.write_turn,
            max_pending=settings.ocpp_message_log_max_pending,
        )
        install_log_filter()  # the `ocpp` package logs raw frames: keep passwords out
        self.failures: FailureStore = failures or InMemoryFailureStore(
            LockoutPolicy(
                max_failures=settings.ocpp_auth_max_failures,
                window_s=settings.ocpp_auth_failure_window_s,
                lockout_s=settings.ocpp_auth_lockout_s,
                max_lockout_s=settings.ocpp_auth_lockout_max_s,
            )
        )
        self._db_slots = asyncio.Semaphore(HANDSHAKE_DB_SLOTS)
        self.authenticator = StationAuthenticator(
            session_factory=session_factory,
            allow_unknown=settings.ocpp_allow_unknown_stations,
            failures=self.failures,
            db_slots=self._db_slots,
            bus=bus,
        )
        # Called with the reason ("lockout", "rate_limit") of every refusal (metrics).
        self.refusal_observers: list[Callable[[str], None]] = []
        self._buckets: dict[str, TokenBucket] = {}
        self._context = HandlerContext(
            session_factory=session_factory,
            bus=bus,
            heartbeat_interval_s=settings.ocpp_heartbeat_interval_s,
            max_frame_bytes=settings.ocpp_max_frame_bytes,
            group=self.group,
        )

    async def __aenter__(self) -> Self:
        freeze_startup_heap()  # the app is built when its OCPP endpoint starts
        await self.message_log.start()
        await self.group.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.registry.close_all()
        await self.group.stop()
        await self.message_log.stop()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        station_id = str(scope.get("path_params", {}).get("station_id", ""))
        if not _STATION_ID.match(station_id):
            await self._deny(websocket, PlainTextResponse("invalid station id", status_code=400))
            return
        authorization = websocket.headers.get("authorization")
        address = websocket.client.host if websocket.client else "unknown"
        decision = await self.authenticator.check(station_id, authorization, address)
        if decision.retry_after_s > 0:
            self._refused("lockout")
            await self._deny(
                websocket,
                PlainTextResponse(
                    "too many failed handshakes: try again later",
                    status_code=429,
                    headers={"Retry-After": retry_after_header(decision.retry_after_s)},
                ),
            )
            return
        if not decision.ok:
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

    def _bucket(self, station_id: str) -> TokenBucket:
        """The station's token bucket, kept across reconnects (reconnecting refills nothing)."""
        bucket = self._buckets.pop(station_id, None)
        if bucket is None:
            bucket = TokenBucket(
                rate_per_s=self.settings.ocpp_rate_limit_per_s,
                burst=self.settings.ocpp_rate_limit_burst,
            )
            if len(self._buckets) >= _MAX_BUCKETS:
                self._buckets.pop(next(iter(self._buckets)))
        self._buckets[station_id] = bucket  # most recent last
        return bucket

    def _refused(self, reason: str) -> None:
        for observe in self.refusal_observers:
            observe(reason)

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
            rate_limit=self._bucket(station_id),
            on_refused=self._refused,
        )
        previous = await self.registry.attach(connection)
        if previous is not None:
            log.info("station %s reconnected: closing its previous connection", station_id)
            await previous.close(code=1000, reason="replaced by a newer connection")
        connected_at = datetime.now(UTC)  # before the wait for a slot
        try:
            async with self._db_slots:
                await stations.record_connected(
                    session_factory=self._session_factory,
                    bus=self._bus,
                    station_id=station_id,
                    ocpp_version=version,
                    at=connected_at,
                )
            log.info("station %s connected (%s)", station_id, version.value)
            await connection.serve()
        finally:
            if await self.registry.detach(connection):
                at = datetime.now(UTC)  # before the wait for a slot
                async with self._db_slots:
                    await stations.record_disconnected(
                        session_factory=self._session_factory,
                        bus=self._bus,
                        station_id=station_id,
                        at=at,
                    )
                log.info("station %s disconnected", station_id)
