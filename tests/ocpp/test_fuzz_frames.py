"""Hypothesis-generated OCPP frames against the live server, over a raw WebSocket.

Random JSON, CALLs with wrong types and unknown actions, wrong message type ids, payloads up
to and past the frame limit, binary frames. After every garbage frame a valid Heartbeat must be
answered; CALLs get exactly one answer with their id (CALLERROR where the spec says); another
station's connection stays up; nothing is logged as an unexpected error; and the valid messages
sent after the garbage are all in the message log and applied (status, heartbeat). Bounded:
a fixed number of examples per OCPP version, whole module well under a minute.
"""

import asyncio
import json
import logging
import os
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
import websockets
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from app.db.engine import SessionFactory
from app.db.models import ChargingStation, Evse, OcppMessageLog
from app.domain.enums import EvseStatus, MessageDirection
from app.settings import Settings
from tests.conftest import LiveServer, serve
from tests.factories import make_station
from tests.ocpp.clients import V16, V201, boot16, charger, raw_socket

pytestmark = pytest.mark.e2e

MAX_FRAME = 8192
# per OCPP version; OCPP_FUZZ_EXAMPLES=2000 for a deeper run by hand
EXAMPLES = int(os.environ.get("OCPP_FUZZ_EXAMPLES", "120"))
ACTIONS = (
    "Heartbeat", "BootNotification", "StatusNotification", "MeterValues", "Authorize",
    "StartTransaction", "StopTransaction", "TransactionEvent", "DataTransfer", "NotifyEvent",
    "FirmwareStatusNotification", "SecurityEventNotification", "GetConfiguration", "Reset",
)  # fmt: skip

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
unique_ids = st.text(min_size=1, max_size=40) | st.integers() | st.none()
actions = st.sampled_from(ACTIONS) | st.text(max_size=30)
payloads = st.dictionaries(
    st.sampled_from(["connectorId", "status", "errorCode", "idTag", "meterValue", "reason"])
    | st.text(max_size=10),
    json_values,
    max_size=5,
)


def _padded(size: int) -> str:
    frame = '[2,"padded","Heartbeat",{}'
    return frame + " " * max(0, size - len(frame) - 1) + "]"


frames: st.SearchStrategy[str | bytes] = st.one_of(
    json_values.map(json.dumps),  # random JSON
    st.tuples(st.just(2), unique_ids, actions, payloads).map(lambda t: json.dumps(list(t))),
    st.tuples(st.just(2), st.text(min_size=1, max_size=36), actions, payloads).map(
        lambda t: json.dumps(list(t))
    ),  # CALLs with a valid id: wrong types, unknown actions
    st.tuples(st.integers(-5, 10) | st.text(max_size=3), unique_ids, actions, json_values).map(
        lambda t: json.dumps(list(t))
    ),  # wrong message type ids
    st.lists(json_values, max_size=7).map(json.dumps),
    st.text(max_size=200),  # not JSON at all
    st.integers(MAX_FRAME - 64, MAX_FRAME + 64).map(_padded),  # around the size limit
    st.binary(max_size=200),  # binary frames, invalid UTF-8 included
)


def expected_answer_id(frame: str | bytes) -> str | None:
    """The unique id a correct CSMS answers `frame` with; None when it must stay silent."""
    text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
    try:
        parsed = json.loads(text)
    except ValueError:
        return "-1"
    if not isinstance(parsed, list) or len(parsed) < 3:
        return "-1"
    unique_id = parsed[1]
    if not isinstance(unique_id, str) or not 1 <= len(unique_id) <= 36:
        return "-1"
    if parsed[0] in (3, 4):
        return None  # an answer to a call the CSMS never made: ignored
    return unique_id


@pytest.fixture
def fuzz_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "ocpp_max_frame_bytes": MAX_FRAME,
            "ocpp_rate_limit_per_s": 10_000.0,  # the fuzzer is fast; limits have their own tests
            "ocpp_rate_limit_burst": 100_000,
        }
    )


@pytest.fixture
async def fuzz_server(fuzz_settings: Settings, engine: AsyncEngine) -> AsyncIterator[LiveServer]:
    from app.main import create_app

    async with serve(create_app(fuzz_settings)) as server:
        yield server


def run_examples(
    loop: asyncio.AbstractEventLoop, check: Callable[[str | bytes], Coroutine[Any, Any, None]]
) -> None:
    """Drive `check` with generated frames (Hypothesis runs in this worker thread; each check
    runs on the test's event loop)."""

    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(frame=frames)
    def examples(frame: str | bytes) -> None:
        asyncio.run_coroutine_threadsafe(check(frame), loop).result(timeout=20)

    examples()


async def _answers_until(websocket: Any, sentinel: str) -> list[Any]:
    """Every frame received up to and including the answer to `sentinel` (bounded)."""
    received: list[Any] = []
    async with asyncio.timeout(10):
        while True:
            message = json.loads(await websocket.recv())
            received.append(message)
            if isinstance(message, list) and len(message) > 1 and message[1] == sentinel:
                return received


@pytest.mark.parametrize(("version", "station_id"), [(V16, "FUZZ-16"), (V201, "FUZZ-201")])
async def test_garbage_frames_never_break_the_server_or_other_stations(
    fuzz_server: LiveServer,
    session_factory: SessionFactory,
    caplog: pytest.LogCaptureFixture,
    version: str,
    station_id: str,
) -> None:
    caplog.set_level(logging.WARNING)
    await make_station(session_factory, station_id=station_id, evses=1)
    await make_station(session_factory, station_id="BYSTANDER")
    registry = fuzz_server.runtime.registry
    sentinels: list[str] = []
    async with (
        charger(fuzz_server, "BYSTANDER") as bystander,
        raw_socket(fuzz_server, station_id, subprotocols=(version,)) as websocket,
    ):
        assert (await boot16(bystander)).status == "Accepted"

        async def check(frame: str | bytes) -> None:
            await websocket.send(frame)
            sentinel = f"sentinel-{len(sentinels)}"
            sentinels.append(sentinel)
            await websocket.send(json.dumps([2, sentinel, "Heartbeat", {}]))
            received = await _answers_until(websocket, sentinel)
            *garbage_answers, sentinel_answer = received
            assert sentinel_answer[0] == 3, sentinel_answer  # the valid message is answered
            for answer in garbage_answers:
                assert isinstance(answer, list)
                assert answer[0] in (3, 4), answer
                if answer[0] == 4:
                    assert isinstance(answer[2], str)
                    assert answer[2]  # an error code
            expected = expected_answer_id(frame)
            if expected is None:
                assert garbage_answers == []
            else:
                assert [a[1] for a in garbage_answers] == [expected]

        await asyncio.to_thread(run_examples, asyncio.get_running_loop(), check)

        # after all that, valid messages are answered and applied
        status = {"connectorId": 1, "errorCode": "GroundFailure", "status": "Faulted"}
        if version == V201:
            status = {
                "timestamp": "2026-01-01T00:00:00Z",
                "connectorStatus": "Faulted",
                "evseId": 1,
                "connectorId": 1,
            }
        await websocket.send(json.dumps([2, "final-status", "StatusNotification", status]))
        assert (await _answers_until(websocket, "final-status"))[-1][0] == 3
        assert registry.is_connected("BYSTANDER")
        assert registry.is_connected(station_id)
        assert (await bystander.call(_heartbeat16())).current_time

    await fuzz_server.runtime.ocpp.message_log.flush()
    async with session_factory() as db:
        logged = set(
            (
                await db.exec(
                    select(OcppMessageLog.unique_id).where(
                        OcppMessageLog.station_id == station_id,
                        OcppMessageLog.direction == MessageDirection.INBOUND,
                        col(OcppMessageLog.unique_id).startswith("sentinel-"),
                    )
                )
            ).all()
        )
        station = await db.get(ChargingStation, station_id)
        evse = (await db.exec(select(Evse).where(Evse.station_id == station_id))).one()
    assert logged == set(sentinels)
    assert len(sentinels) >= 10
    assert station is not None
    assert station.last_heartbeat_at is not None
    assert evse.status == EvseStatus.OUTOFORDER
    unexpected = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert unexpected == [], [r.getMessage()[:300] for r in unexpected]


def _heartbeat16() -> Any:
    from ocpp.v16 import call

    return call.Heartbeat()


async def test_invalid_utf8_in_a_text_frame_closes_only_that_connection(
    fuzz_server: LiveServer, session_factory: SessionFactory
) -> None:
    await make_station(session_factory, station_id="FUZZ-UTF8")
    await make_station(session_factory, station_id="BYSTANDER-2")
    async with charger(fuzz_server, "BYSTANDER-2") as bystander:
        async with raw_socket(fuzz_server, "FUZZ-UTF8") as websocket:
            await websocket.send(b'[2,"u","Heartbeat",{"x":"\xff\xfe"}]', text=True)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                async with asyncio.timeout(10):
                    await websocket.recv()
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1007  # invalid frame payload data (RFC 6455)
        assert fuzz_server.runtime.registry.is_connected("BYSTANDER-2")
        assert (await bystander.call(_heartbeat16())).current_time
        # the station reconnects and is served normally
        async with raw_socket(fuzz_server, "FUZZ-UTF8") as websocket:
            await websocket.send('[2,"again","Heartbeat",{}]')
            async with asyncio.timeout(10):
                assert json.loads(await websocket.recv())[:2] == [3, "again"]
