"""OCPP-J framing: which CALLERROR code each malformed frame gets, per OCPP version."""

import pytest

from app.domain.enums import MessageKind, OcppVersion
from app.ocpp.framing import FrameError, parse_frame, peek


@pytest.mark.parametrize(
    ("frame", "version", "unique_id", "code", "respond"),
    [
        pytest.param("{", OcppVersion.V16, "-1", "FormationViolation", True, id="json-16"),
        pytest.param("{", OcppVersion.V201, "-1", "RpcFrameworkError", True, id="json-201"),
        pytest.param(
            '[2, 5, "A", {}]', OcppVersion.V201, "-1", "RpcFrameworkError", True, id="numeric-id"
        ),
        pytest.param(
            '[2, "a", "A", []]',
            OcppVersion.V201,
            "a",
            "FormatViolation",
            True,
            id="payload-not-object",
        ),
        pytest.param(
            '[9, "a", "A", {}]',
            OcppVersion.V201,
            "a",
            "MessageTypeNotSupported",
            True,
            id="type-201",
        ),
        pytest.param('[3, "a"]', OcppVersion.V16, "-1", "FormationViolation", True, id="too-short"),
        pytest.param('[3, "a", 1]', OcppVersion.V16, "a", "", False, id="bad-callresult"),
    ],
)
def test_malformed_frames(
    frame: str, version: OcppVersion, unique_id: str, code: str, respond: bool
) -> None:
    with pytest.raises(FrameError) as raised:
        parse_frame(frame, version=version, max_bytes=1024)
    assert (raised.value.unique_id, raised.value.code, raised.value.respond) == (
        unique_id,
        code,
        respond,
    )


def test_oversized_frame_keeps_its_unique_id() -> None:
    frame = '[2, "big", "DataTransfer", {"data": "' + "é" * 600 + '"}]'
    with pytest.raises(FrameError) as raised:
        parse_frame(frame, version=OcppVersion.V16, max_bytes=1024)
    assert (raised.value.unique_id, raised.value.code) == ("big", "FormationViolation")


def test_valid_frames_parse() -> None:
    call = parse_frame('[2,"1","Heartbeat",{}]', version=OcppVersion.V16, max_bytes=1024)
    assert (call.unique_id, call.action, call.payload) == ("1", "Heartbeat", {})
    error = parse_frame('[4,"2","NotSupported","",{}]', version=OcppVersion.V16, max_bytes=1024)
    assert error.error_code == "NotSupported"


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ('[2,"u1","Heartbeat",{}]', (MessageKind.CALL, "u1", "Heartbeat")),
        ('[3,"u2",{"a":1}]', (MessageKind.CALLRESULT, "u2", None)),
        ('[4,"u3","InternalError","x",{}]', (MessageKind.CALLERROR, "u3", "InternalError")),
        ("garbage", (MessageKind.INVALID, None, None)),
    ],
)
def test_peek_classifies_for_the_log(frame: str, expected: tuple[object, ...]) -> None:
    assert peek(frame) == expected
