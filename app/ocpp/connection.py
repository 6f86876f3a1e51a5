"""One station's WebSocket: the receive loop, logged sends, and commands to the station."""

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from ocpp.exceptions import OCPPError, UnknownCallErrorCodeError
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from app.domain.commands import (
    CommandOutcome,
    CommandStatus,
    SetStationPassword,
    StationCommand,
)
from app.domain.enums import MessageDirection, MessageKind, OcppVersion
from app.ocpp.base import CsmsRouting, HandlerContext, callerror_frame
from app.ocpp.framing import FrameError, parse_frame, peek
from app.ocpp.limits import TokenBucket
from app.ocpp.message_log import MessageLogWriter
from app.ocpp.redaction import redact
from app.ocpp.v16 import handlers as v16_handlers
from app.ocpp.v16 import mapping as v16_mapping
from app.ocpp.v201 import handlers as v201_handlers
from app.ocpp.v201 import mapping as v201_mapping
from app.services.message_log import LoggedFrame

log = logging.getLogger(__name__)

_HANDLERS: dict[OcppVersion, type[CsmsRouting]] = {
    OcppVersion.V16: v16_handlers.StationHandlers16,
    OcppVersion.V201: v201_handlers.StationHandlers201,
}
_COMMANDS: dict[
    OcppVersion, tuple[Callable[[StationCommand], Any], Callable[[Any], CommandOutcome]]
] = {
    OcppVersion.V16: (v16_mapping.command_payload, v16_mapping.command_outcome),
    OcppVersion.V201: (v201_mapping.command_payload, v201_mapping.command_outcome),
}
_PASSWORD: dict[OcppVersion, tuple[Callable[[str], Any], Callable[[Any], CommandOutcome]]] = {
    OcppVersion.V16: (v16_mapping.password_payload, v16_mapping.password_outcome),
    OcppVersion.V201: (v201_mapping.password_payload, v201_mapping.password_outcome),
}
# The caller's timeout bounds each call (`send_command`); the package's own is only a backstop.
_PACKAGE_TIMEOUT_S = 24 * 3600.0


def _printable(value: str | None) -> str | None:
    """Ids and actions come from the raw frame head: no NUL (PostgreSQL text refuses it)."""
    return value.replace("\x00", "\\u0000") if value is not None and "\x00" in value else value


class StationConnection:
    """An accepted WebSocket of one station, speaking one OCPP version.

    Serves as the `connection` of the `ocpp` package's ChargePoint (it calls `send`), so every
    frame out passes through the message log, as does every frame in (`serve`).
    """

    def __init__(
        self,
        *,
        websocket: WebSocket,
        station_id: str,
        version: OcppVersion,
        context: HandlerContext,
        message_log: MessageLogWriter,
        rate_limit: TokenBucket | None = None,
        on_refused: Callable[[str], None] | None = None,
    ) -> None:
        self.websocket = websocket
        self._rate_limit = rate_limit
        self._on_refused = on_refused
        self.station_id = station_id
        self.version = version
        self._message_log = message_log
        self._send_lock = asyncio.Lock()
        self._actions: dict[str, str] = {}  # unique id -> action, to label the answers in the log
        handler_class: Any = _HANDLERS[version]
        self.charge_point: Any = handler_class(station_id, self, context, _PACKAGE_TIMEOUT_S)

    def _log(
        self,
        direction: MessageDirection,
        text: str,
        kind: MessageKind,
        unique_id: str | None,
        action: str | None,
        error_code: str | None = None,
    ) -> None:
        self._message_log.record(
            LoggedFrame(
                station_id=self.station_id,
                direction=direction,
                kind=kind,
                payload=redact(text),
                unique_id=_printable(unique_id),
                action=_printable(action),
                error_code=_printable(error_code),
            )
        )

    async def send(self, text: str) -> None:
        """Send one frame (called by the ChargePoint for answers and calls)."""
        kind, unique_id, second = peek(text)
        action = second if kind == MessageKind.CALL else None
        if kind == MessageKind.CALL and unique_id and second:
            self._actions[unique_id] = second
        elif unique_id and kind in (MessageKind.CALLRESULT, MessageKind.CALLERROR):
            action = self._actions.pop(unique_id, None)
        error_code = second if kind == MessageKind.CALLERROR else None
        self._log(MessageDirection.OUTBOUND, text, kind, unique_id, action, error_code)
        async with self._send_lock:
            await self.websocket.send_text(text)

    async def handle_frame(self, text: str) -> None:
        """Log, parse and dispatch one inbound frame; nothing escapes but cancellation."""
        try:
            message = parse_frame(
                text, version=self.version, max_bytes=self.charge_point.context.max_frame_bytes
            )
        except FrameError as error:
            self._log(MessageDirection.INBOUND, text, MessageKind.INVALID, error.unique_id, None)
            await self.charge_point.reject(error)
            return
        kind, _, second = peek(text)
        action: str | None = None
        if message.message_type_id == 2:
            action = message.action
            self._actions[message.unique_id] = message.action
        else:
            action = self._actions.pop(message.unique_id, None)
        error_code = second if kind == MessageKind.CALLERROR else None
        self._log(MessageDirection.INBOUND, text, kind, message.unique_id, action, error_code)
        if message.message_type_id == 2 and self._rate_limit is not None:
            wait_s = self._rate_limit.take()
            if wait_s > 0:
                await self._refuse_over_rate(message.unique_id, wait_s)
                return
        await self.charge_point.dispatch(message)

    async def _refuse_over_rate(self, unique_id: str, wait_s: float) -> None:
        """Answer a CALL over the station's message rate without handling it.

        OCPP-J has no "busy" code in 1.6 or 2.0.1: GenericError with a description that says
        so. A transaction message refused this way is retried by the station (1.6 §4.10,
        2.0.1 E.Transactions: a CALLERROR counts as a failed attempt), so nothing is lost.
        """
        assert self._rate_limit is not None
        if self._on_refused is not None:
            self._on_refused("rate_limit")
        log.warning("station %s: over its message rate; refused %s", self.station_id, unique_id)
        description = (
            f"rate limit exceeded: at most {self._rate_limit.rate_per_s:g} messages/s "
            f"(burst {self._rate_limit.burst}); retry in {wait_s:.1f} s"
        )
        await self.send(
            callerror_frame(unique_id, "GenericError", description, {"retryAfterS": wait_s})
        )

    async def serve(self) -> None:
        """Handle frames until the station disconnects."""
        while True:
            event = await self.websocket.receive()
            if event["type"] == "websocket.disconnect":
                return
            text = event.get("text")
            if text is None:
                text = (event.get("bytes") or b"").decode("utf-8", "replace")
            try:
                await self.handle_frame(text)
            except Exception:  # loop top: one bad frame must not end the connection
                log.exception(
                    "station %s: unhandled error on frame %.200r", self.station_id, redact(text)
                )

    async def close(self, *, code: int = 1000, reason: str = "") -> None:
        if self.websocket.application_state != WebSocketState.DISCONNECTED:
            try:
                await self.websocket.close(code=code, reason=reason)
            except (RuntimeError, OSError, WebSocketDisconnect) as exc:
                # Already gone from the other side (e.g. replaced by a reconnect that came in
                # before this socket's disconnect was read): nothing left to close.
                log.debug("station %s: close failed: %s", self.station_id, exc)

    async def send_command(self, command: StationCommand, *, timeout_s: float) -> CommandOutcome:
        """Send `command` as this version's CALL and map the answer (TIMEOUT if none in time)."""
        if isinstance(command, SetStationPassword):
            make_payload, to_outcome = _PASSWORD[self.version]
            payload = make_payload(command.password)
        else:
            to_payload, to_outcome = _COMMANDS[self.version]
            payload = to_payload(command)
        try:
            async with asyncio.timeout(timeout_s):
                result = await self.charge_point.call(payload, suppress=False)
        except TimeoutError:
            return CommandOutcome(CommandStatus.TIMEOUT, {"timeout_s": timeout_s})
        except OCPPError as error:
            return CommandOutcome(
                CommandStatus.FAILED,
                {
                    "error_code": error.code,
                    "description": error.description,
                    "details": error.details,
                },
            )
        except UnknownCallErrorCodeError as error:
            return CommandOutcome(
                CommandStatus.FAILED, {"error_code": None, "description": str(error)}
            )
        return to_outcome(result)
