"""Handler-level fuzz without a socket: schema-shaped 1.6 payloads with extreme values.

The socket fuzz (`test_fuzz_frames.py`) mostly exercises framing and validation; here every
payload has the right shape, so values reach the services and the database: huge integers,
odd strings, NULs, far-off timestamps. Each CALL must get exactly one answer with its id, and
never InternalError (an unexpected exception) nor an error logged.

Transaction messages are in too (transaction ids kept small so stops and meter values meet
the sessions the starts opened): this fuzz found meter registers past 32 bits and a meterStop
below meterStart ending in InternalError on PostgreSQL; registers are now 64-bit and the
transaction service refuses what no column holds, or a register going backwards, with
PropertyConstraintViolation.
"""

import asyncio
import json
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from ocpp.exceptions import OCPPError

from app.db.engine import SessionFactory
from tests.factories import make_id_token, make_station
from tests.ocpp.harness import handlers16

EXAMPLES = 150

ints = st.integers(-(2**31), 2**31 - 1) | st.integers(-(2**70), 2**70) | st.integers(0, 3)
texts = st.text(max_size=25) | st.sampled_from(["", "\x00", "TOKEN-OK", "A" * 20])
timestamps = st.sampled_from(
    ["2026-11-27T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "not a time", ""]
) | st.datetimes().map(lambda d: d.isoformat())
statuses = st.sampled_from(
    ["Available", "Preparing", "Charging", "Faulted", "Unavailable", "Reserved"]
)
error_codes = st.sampled_from(["NoError", "GroundFailure", "OtherError", "PowerMeterFailure"])
sampled_value = st.fixed_dictionaries(
    {"value": st.one_of(texts, ints.map(str), st.floats().map(str))},
    optional={
        "measurand": st.sampled_from(
            ["Energy.Active.Import.Register", "Power.Active.Import", "SoC", "Current.Import"]
        ),
        "unit": st.sampled_from(["Wh", "kWh", "W", "kW", "A", "Percent"]),
        "context": st.sampled_from(["Sample.Periodic", "Transaction.Begin"]),
    },
)
meter_value = st.fixed_dictionaries(
    {"timestamp": timestamps, "sampledValue": st.lists(sampled_value, min_size=1, max_size=3)}
)

transaction_ids = st.integers(1, 12) | ints

CALLS: st.SearchStrategy[tuple[str, dict[str, Any]]] = st.one_of(
    st.tuples(
        st.just("StatusNotification"),
        st.fixed_dictionaries(
            {"connectorId": ints, "errorCode": error_codes, "status": statuses},
            optional={"timestamp": timestamps, "info": texts, "vendorErrorCode": texts},
        ),
    ),
    st.tuples(
        st.just("MeterValues"),
        st.fixed_dictionaries(
            {"connectorId": ints, "meterValue": st.lists(meter_value, min_size=1, max_size=2)}
        ),
    ),
    st.tuples(
        st.just("MeterValues"),
        st.fixed_dictionaries(
            {
                "connectorId": st.integers(0, 2),
                "transactionId": transaction_ids,
                "meterValue": st.lists(meter_value, min_size=1, max_size=2),
            }
        ),
    ),
    st.tuples(
        st.just("StartTransaction"),
        st.fixed_dictionaries(
            {"connectorId": ints, "idTag": texts, "meterStart": ints, "timestamp": timestamps},
            optional={"reservationId": ints},
        ),
    ),
    st.tuples(
        st.just("StopTransaction"),
        st.fixed_dictionaries(
            {"transactionId": transaction_ids, "meterStop": ints, "timestamp": timestamps},
            optional={
                "idTag": texts,
                "reason": st.sampled_from(["Local", "EVDisconnected", "Other"]),
                "transactionData": st.lists(meter_value, max_size=2),
            },
        ),
    ),
    st.tuples(st.just("Authorize"), st.fixed_dictionaries({"idTag": texts})),
    st.tuples(
        st.just("BootNotification"),
        st.fixed_dictionaries(
            {"chargePointVendor": texts, "chargePointModel": texts},
            optional={"firmwareVersion": texts, "chargePointSerialNumber": texts},
        ),
    ),
    st.tuples(
        st.just("DataTransfer"),
        st.fixed_dictionaries({"vendorId": texts}, optional={"messageId": texts, "data": texts}),
    ),
    st.tuples(
        st.just("FirmwareStatusNotification"),
        st.fixed_dictionaries({"status": st.sampled_from(["Downloaded", "Installed", "Idle"])}),
    ),
)


def _expected(record: logging.LogRecord) -> bool:
    """The `ocpp` package logs every OCPPError a handler raises (a bad value refused with its
    CALLERROR) at ERROR with the traceback: expected refusals, not failures."""
    error = record.exc_info[1] if record.exc_info else None
    return record.name == "ocpp" and isinstance(error, OCPPError)


def run_examples(
    loop: asyncio.AbstractEventLoop,
    check: Callable[[tuple[str, dict[str, Any]]], Coroutine[Any, Any, None]],
) -> None:
    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(message=CALLS)
    def examples(message: tuple[str, dict[str, Any]]) -> None:
        asyncio.run_coroutine_threadsafe(check(message), loop).result(timeout=20)

    examples()


async def test_schema_shaped_payloads_get_one_answer_and_never_an_internal_error(
    session_factory: SessionFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    await make_station(session_factory, station_id="FUZZ-H16", evses=2)
    await make_id_token(session_factory, uid="TOKEN-OK")
    charge_point, connection = handlers16(session_factory, None, "FUZZ-H16")
    counter = iter(range(1_000_000))

    async def check(message: tuple[str, dict[str, Any]]) -> None:
        action, payload = message
        unique_id = f"h-{next(counter)}"
        connection.sent.clear()
        await charge_point.route_message(json.dumps([2, unique_id, action, payload]))
        assert len(connection.sent) == 1, connection.sent
        answer = connection.sent[0]
        assert answer[1] == unique_id
        if answer[0] == 4:
            assert answer[2] != "InternalError", (action, payload, answer)

    await asyncio.to_thread(run_examples, asyncio.get_running_loop(), check)
    unexpected = [r for r in caplog.records if r.levelno >= logging.ERROR and not _expected(r)]
    assert unexpected == [], [r.getMessage()[:300] for r in unexpected]
