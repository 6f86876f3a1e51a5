"""OCPP-J framing: split a text frame into CALL / CALLRESULT / CALLERROR or a protocol error.

The `ocpp` package silently drops frames it cannot unpack; OCPP-J wants a CALLERROR for every
CALL it cannot process, with unique id "-1" when the id cannot be read (2.0.1, 4.2.3).
"""

import json
import re
from typing import Any

from ocpp.messages import Call, CallError, CallResult

from app.domain.enums import MessageKind, OcppVersion

# ocpp's Call | CallResult | CallError; the package is untyped, so mypy sees Any.
Message = Any

_HEAD = re.compile(
    r'^\s*\[\s*([0-9]+)\s*,\s*"((?:[^"\\]|\\.){0,64})"\s*(?:,\s*"((?:[^"\\]|\\.){0,64})")?'
)
_KINDS = {2: MessageKind.CALL, 3: MessageKind.CALLRESULT, 4: MessageKind.CALLERROR}


class FrameError(Exception):
    """A frame that is not valid OCPP-J. `respond` is False when no CALLERROR may be sent."""

    def __init__(
        self, *, unique_id: str, code: str, description: str, respond: bool = True
    ) -> None:
        super().__init__(f"{code}: {description}")
        self.unique_id = unique_id
        self.code = code
        self.description = description
        self.respond = respond


def format_violation(version: OcppVersion) -> str:
    """OCPP 1.6 spells it FormationViolation (errata: will not be fixed); 2.0.1 FormatViolation."""
    return "FormationViolation" if version == OcppVersion.V16 else "FormatViolation"


def _rpc_error(version: OcppVersion) -> str:
    # 2.0.1 has a code for "not a valid RPC frame, e.g. the MessageId cannot be read"; 1.6 does not.
    return "RpcFrameworkError" if version == OcppVersion.V201 else "FormationViolation"


def peek(text: str) -> tuple[MessageKind, str | None, str | None]:
    """Kind, unique id and action (CALL) or error code (CALLERROR) from the frame's head only."""
    match = _HEAD.match(text[:200])
    if match is None:
        return MessageKind.INVALID, None, None
    kind = _KINDS.get(int(match.group(1)), MessageKind.INVALID)
    second = match.group(3) if kind in (MessageKind.CALL, MessageKind.CALLERROR) else None
    return kind, match.group(2), second


_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _wide_int(node: Any, depth: int = 0) -> tuple[str, int] | None:
    """The first id field (`...Id`, `id`, `seqNo`) holding an integer past 32 bits, or any
    integer past 64 bits.

    OCPP 1.6 and 2.0.1 define every id and sequence number as a 32-bit integer; the database
    columns are too. Meter readings are not ids and may be wider.
    """
    if depth > 8:
        return None
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, value in items:
        if (
            isinstance(key, str)
            and (key.endswith("Id") or key in ("id", "seqNo"))
            and isinstance(value, int)
            and not isinstance(value, bool)
            and not _INT32_MIN <= value <= _INT32_MAX
        ) or (isinstance(value, int) and not _INT64_MIN <= value <= _INT64_MAX):
            return str(key), value
        if isinstance(value, dict | list):
            found = _wide_int(value, depth + 1)
            if found is not None:
                return found
    return None


def parse_frame(text: str, *, version: OcppVersion, max_bytes: int) -> Message:
    """Parse one frame or raise FrameError naming the OCPP-J error code to answer with."""
    if len(text) * 4 > max_bytes and len(text.encode("utf-8", "surrogatepass")) > max_bytes:
        _, unique_id, _ = peek(text)
        raise FrameError(
            unique_id=unique_id or "-1",
            code=format_violation(version),
            description=f"frame of {len(text.encode('utf-8', 'surrogatepass'))} bytes exceeds "
            f"the limit of {max_bytes} bytes",
        )
    try:
        frame: Any = json.loads(text)
    except ValueError as exc:
        raise FrameError(
            unique_id="-1", code=_rpc_error(version), description=f"frame is not valid JSON: {exc}"
        ) from None
    if not isinstance(frame, list) or len(frame) < 3:
        raise FrameError(
            unique_id="-1",
            code=_rpc_error(version),
            description="frame is not a JSON array of at least 3 elements",
        )
    type_id, unique_id = frame[0], frame[1]
    if not isinstance(unique_id, str) or not unique_id or len(unique_id) > 36:
        raise FrameError(
            unique_id="-1",
            code=_rpc_error(version),
            description=f"message id {unique_id!r} is not a string of 1 to 36 characters",
        )
    if type_id == 2:
        if len(frame) != 4 or not isinstance(frame[2], str) or not isinstance(frame[3], dict):
            raise FrameError(
                unique_id=unique_id,
                code=format_violation(version),
                description="CALL must be [2, messageId, action (string), payload (object)]",
            )
        if "\\u0000" in text:  # no OCPP string holds NUL; PostgreSQL text cannot store one
            raise FrameError(
                unique_id=unique_id,
                code="PropertyConstraintViolation",
                description="a string holds NUL (\\u0000): OCPP strings are printable text",
            )
        wide = _wide_int(frame[3])
        if wide is not None:
            raise FrameError(
                unique_id=unique_id,
                code="TypeConstraintViolation",
                description=f"{wide[0]} {str(wide[1])[:30]} is too wide: ids and sequence "
                "numbers are 32-bit integers, other integers 64-bit",
            )
        return Call(unique_id, frame[2], frame[3])
    if type_id == 3:
        if len(frame) != 3 or not isinstance(frame[2], dict):
            raise FrameError(
                unique_id=unique_id, code="", description="malformed CALLRESULT", respond=False
            )
        return CallResult(unique_id, frame[2])
    if type_id == 4:
        if len(frame) != 5 or not isinstance(frame[2], str):
            raise FrameError(
                unique_id=unique_id, code="", description="malformed CALLERROR", respond=False
            )
        return CallError(unique_id, frame[2], frame[3], frame[4])
    raise FrameError(
        unique_id=unique_id,
        code="MessageTypeNotSupported" if version == OcppVersion.V201 else "FormationViolation",
        description=f"message type id {type_id!r} is not 2 (CALL), 3 (CALLRESULT) or 4 (CALLERROR)",
    )
