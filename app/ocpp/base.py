"""Routing shared by the 1.6 and 2.0.1 handler classes: the CALLERRORs the `ocpp` package omits."""

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from ocpp.exceptions import (
    FormationViolationError,
    NotSupportedError,
    OCPPError,
)
from ocpp.exceptions import (
    NotImplementedError as OcppNotImplementedError,
)
from ocpp.messages import Call, CallError, CallResult
from ocpp.routing import on as _ocpp_on

from app.db.engine import SessionFactory
from app.domain.enums import OcppVersion
from app.events import EventBus
from app.ocpp.framing import FrameError, Message, parse_frame
from app.services.group_commit import GroupCommit

log = logging.getLogger(__name__)

Handler = TypeVar("Handler", bound=Callable[..., Any])


def on(action: str) -> Callable[[Handler], Handler]:
    """`ocpp.routing.on`, typed."""
    decorator: Callable[[Handler], Handler] = _ocpp_on(action)
    return decorator


@dataclass(frozen=True, slots=True)
class HandlerContext:
    """What handlers need to call services."""

    session_factory: SessionFactory
    bus: EventBus
    heartbeat_interval_s: int
    max_frame_bytes: int = 65_536
    # Shared transactions for the hot messages; None: each message commits alone.
    group: GroupCommit | None = None


def now() -> datetime:
    return datetime.now(UTC)


def callerror_frame(unique_id: str, code: str, description: str, details: Any = None) -> str:
    return json.dumps([4, unique_id, code, description, details or {}], separators=(",", ":"))


class CsmsRouting:
    """Mixin placed before `ocpp.v16.ChargePoint` / `ocpp.v201.ChargePoint`.

    Replaces `route_message`: answers unparsable frames, tells NotImplemented (action unknown to
    the spec) from NotSupported (known, no handler) the way OCPP-J defines them (the package has
    them the other way round), uses 1.6's own spelling of FormationViolation, and never lets
    an error escape to the connection loop.
    """

    ocpp_version: OcppVersion
    known_actions: frozenset[str]
    context: HandlerContext
    if TYPE_CHECKING:  # provided by ocpp's ChargePoint, which mypy sees as Any
        id: str
        route_map: dict[str, dict[str, Any]]
        _response_queue: asyncio.Queue[Any]

        async def _send(self, message: str) -> None: ...

        async def _handle_call(self, msg: Call) -> Any: ...

    async def route_message(self, raw_msg: str) -> None:
        """Parse and dispatch one frame (what the handler tests drive, without a socket)."""
        try:
            message = parse_frame(
                raw_msg, version=self.ocpp_version, max_bytes=self.context.max_frame_bytes
            )
        except FrameError as error:
            await self.reject(error)
            return
        await self.dispatch(message)

    async def reject(self, error: FrameError) -> None:
        log.warning("station %s sent an invalid frame: %s", self.id, error)
        if error.respond:
            await self._send(callerror_frame(error.unique_id, error.code, error.description))

    async def dispatch(self, message: Message) -> None:
        if isinstance(message, CallResult | CallError):
            self._response_queue.put_nowait(message)
            return
        handlers = self.route_map.get(message.action, {})
        if "_on_action" not in handlers:
            error: OCPPError = (
                NotSupportedError(description=f"{message.action} is not supported by this CSMS")
                if message.action in self.known_actions
                else OcppNotImplementedError(
                    description=f"{message.action} is not an OCPP {self.ocpp_version} action"
                )
            )
            await self._send(message.create_call_error(error).to_json())
            return
        try:
            await self._handle_call(message)
        except OCPPError as error:
            # Validation errors carry the whole message in details; answer with the cause only.
            cause = error.details.get("cause") if isinstance(error.details, dict) else None
            if self.ocpp_version == OcppVersion.V16 and error.code == "FormatViolation":
                error = FormationViolationError(description=error.description)
            error.details = {"cause": str(cause)} if cause else {}
            log.info(
                "station %s: %s %s rejected: %s", self.id, message.action, message.unique_id, error
            )
            await self._send(message.create_call_error(error).to_json())
        except Exception:  # loop top for one message: answer InternalError, keep the connection
            log.exception(
                "station %s: error handling %s %s", self.id, message.action, message.unique_id
            )
            await self._send(
                callerror_frame(message.unique_id, "InternalError", "An unexpected error occurred.")
            )
