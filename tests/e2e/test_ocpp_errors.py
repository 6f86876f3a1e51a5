"""End to end: malformed frames each get the right CALLERROR and the connection keeps working."""

import pytest
from sqlmodel import select

from app.db.models import ChargingStation, OcppMessageLog
from app.domain.enums import MessageDirection, MessageKind
from tests.conftest import LiveServer
from tests.factories import make_station
from tests.ocpp.clients import BOOT16, BOOT201, V16, V201, exchange, raw_socket

pytestmark = pytest.mark.e2e

# (frame, expected unique id, expected error code) per version.
BAD_FRAMES_16 = [
    pytest.param('[2, "x1", "Heartbeat", {', "-1", "FormationViolation", id="bad-json"),
    pytest.param('[2, "x2", "FlyToTheMoon", {}]', "x2", "NotImplemented", id="unknown-action"),
    pytest.param('[2, "x3", "GetConfiguration", {}]', "x3", "NotSupported", id="not-supported"),
    pytest.param(
        '[2, "x4", "StatusNotification", {"connectorId": "one", "errorCode": "NoError", '
        '"status": "Available"}]',
        "x4",
        "TypeConstraintViolation",
        id="wrong-type",
    ),
    pytest.param(
        '[2, "x5", "Heartbeat", {"unexpected": 1}]', "x5", "FormationViolation", id="extra-field"
    ),
    pytest.param('[7, "x6", "Heartbeat", {}]', "x6", "FormationViolation", id="bad-type-id"),
    pytest.param('{"not": "an array"}', "-1", "FormationViolation", id="not-an-array"),
    pytest.param(
        '[2, "x8", "DataTransfer", {"vendorId": "' + "v" * 70_000 + '"}]',
        "x8",
        "FormationViolation",
        id="oversized",
    ),
]

BAD_FRAMES_201 = [
    pytest.param("not json at all", "-1", "RpcFrameworkError", id="bad-json"),
    pytest.param('[2, "y2", "FlyToTheMoon", {}]', "y2", "NotImplemented", id="unknown-action"),
    pytest.param('[2, "y3", "GetVariables", {}]', "y3", "NotSupported", id="not-supported"),
    pytest.param(
        '[2, "y4", "Heartbeat", {"customData": 5}]',
        "y4",
        "TypeConstraintViolation",
        id="wrong-type",
    ),
    pytest.param('[5, "y5", "Heartbeat", {}]', "y5", "MessageTypeNotSupported", id="bad-type-id"),
    pytest.param(
        '[2, "y6", "NotifyEvent", {"x": "' + "v" * 70_000 + '"}]',
        "y6",
        "FormatViolation",
        id="oversized",
    ),
]


async def _burst(live_server: LiveServer, subprotocol: str, frame: str, boot: str) -> list[object]:
    await make_station(live_server.runtime.session_factory, station_id="CS-BAD")
    async with raw_socket(live_server, "CS-BAD", subprotocols=(subprotocol,)) as ws:
        error = await exchange(ws, frame)
        answer = await exchange(ws, boot)
    assert answer[0:2] == [3, "ok-1"]
    assert answer[2]["status"] == "Accepted"
    return list(error)


@pytest.mark.parametrize(("frame", "unique_id", "code"), BAD_FRAMES_16)
async def test_1_6_bad_frame_gets_callerror_and_next_message_works(
    live_server: LiveServer, frame: str, unique_id: str, code: str
) -> None:
    error = await _burst(live_server, V16, frame, BOOT16)
    assert error[:3] == [4, unique_id, code]
    assert isinstance(error[3], str)
    assert isinstance(error[4], dict)


@pytest.mark.parametrize(("frame", "unique_id", "code"), BAD_FRAMES_201)
async def test_2_0_1_bad_frame_gets_callerror_and_next_message_works(
    live_server: LiveServer, frame: str, unique_id: str, code: str
) -> None:
    error = await _burst(live_server, V201, frame, BOOT201)
    assert error[:3] == [4, unique_id, code]


async def test_a_burst_of_bad_frames_is_answered_logged_and_good_messages_stored(
    live_server: LiveServer,
) -> None:
    runtime = live_server.runtime
    await make_station(runtime.session_factory, station_id="CS-BURST")
    frames = [p.values[0] for p in BAD_FRAMES_16]
    async with raw_socket(live_server, "CS-BURST") as ws:
        answers = [await exchange(ws, frame) for frame in frames]
        answer = await exchange(ws, BOOT16)
    assert [a[0] for a in answers] == [4] * len(frames)
    assert answer[2]["status"] == "Accepted"
    await runtime.ocpp.message_log.flush()
    async with runtime.session_factory() as db:
        station = await db.get(ChargingStation, "CS-BURST")
        logged = (await db.exec(select(OcppMessageLog).order_by(OcppMessageLog.id))).all()
    assert station is not None
    assert station.vendor == "A"
    inbound = [row for row in logged if row.direction == MessageDirection.INBOUND]
    outbound = [row for row in logged if row.direction == MessageDirection.OUTBOUND]
    assert len(inbound) == len(outbound) == len(frames) + 1
    assert [row.kind for row in outbound] == [MessageKind.CALLERROR] * len(frames) + [
        MessageKind.CALLRESULT
    ]
    assert inbound[0].kind == MessageKind.INVALID
    assert inbound[-1].action == "BootNotification"
    assert outbound[-1].action == "BootNotification"
    assert outbound[1].error_code == "NotImplemented"
