"""Meter registers: 64-bit values are stored and billed; what no column holds, or a register
going backwards, gets PropertyConstraintViolation naming the value (never InternalError)."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from app.db.engine import SessionFactory
from app.db.models import Alert, ChargingSession, MeterSample
from app.domain.alerts import AlertCode, AlertSeverity, AlertState
from app.domain.enums import SessionStatus
from app.services.group_commit import GroupCommit
from tests.factories import make_id_token, make_station
from tests.ocpp.harness import CapturedConnection, handlers16

BIG = 2**40  # a DC charger's lifetime register in Wh: past PostgreSQL's INTEGER


async def _station(
    session_factory: SessionFactory, group: GroupCommit | None, station_id: str
) -> tuple[Any, CapturedConnection]:
    await make_station(session_factory, station_id=station_id)
    await make_id_token(session_factory, uid=f"TAG-{station_id}")
    return handlers16(session_factory, group, station_id)


async def _call(
    cp: Any, captured: CapturedConnection, action: str, payload: dict[str, Any]
) -> list[Any]:
    captured.sent.clear()
    await cp.route_message(json.dumps([2, "m1", action, payload]))
    [answer] = captured.sent
    return list(answer)


def _start(station_id: str, meter_start: int) -> dict[str, Any]:
    return {
        "connectorId": 1,
        "idTag": f"TAG-{station_id}",
        "meterStart": meter_start,
        "timestamp": "2026-11-27T01:00:00Z",
    }


def _meter(transaction_id: int, register: float, at: str = "01:05") -> dict[str, Any]:
    return {
        "connectorId": 1,
        "transactionId": transaction_id,
        "meterValue": [
            {
                "timestamp": f"2026-11-27T{at}:00Z",
                "sampledValue": [
                    {
                        "value": str(register),
                        "measurand": "Energy.Active.Import.Register",
                        "unit": "Wh",
                    }
                ],
            }
        ],
    }


def _stop(transaction_id: int, meter_stop: int) -> dict[str, Any]:
    return {
        "transactionId": transaction_id,
        "meterStop": meter_stop,
        "timestamp": "2026-11-27T01:10:00Z",
    }


async def _session(session_factory: SessionFactory, station_id: str) -> ChargingSession | None:
    async with session_factory() as db:
        statement = select(ChargingSession).where(ChargingSession.station_id == station_id)
        return (await db.exec(statement)).first()


async def test_registers_past_32_bits_are_stored_and_billed(
    session_factory: SessionFactory, group: GroupCommit | None
) -> None:
    cp, captured = await _station(session_factory, group, "CS-REG1")
    started = await _call(cp, captured, "StartTransaction", _start("CS-REG1", BIG))
    assert started[0] == 3
    transaction_id = started[2]["transactionId"]
    assert (await _call(cp, captured, "MeterValues", _meter(transaction_id, BIG + 3_000)))[0] == 3
    assert (await _call(cp, captured, "StopTransaction", _stop(transaction_id, BIG + 5_000)))[
        0
    ] == 3
    session = await _session(session_factory, "CS-REG1")
    assert session is not None
    assert (session.status, session.meter_start_wh, session.meter_stop_wh, session.energy_wh) == (
        SessionStatus.COMPLETED,
        BIG,
        BIG + 5_000,
        5_000,
    )


async def test_a_meter_stop_below_meter_start_ends_the_session_on_its_meter_values_and_alerts(
    session_factory: SessionFactory, group: GroupCommit | None
) -> None:
    cp, captured = await _station(session_factory, group, "CS-REG2")
    transaction_id = (await _call(cp, captured, "StartTransaction", _start("CS-REG2", 5_000)))[2][
        "transactionId"
    ]
    assert (await _call(cp, captured, "MeterValues", _meter(transaction_id, 7_500)))[0] == 3
    # The charger has stopped; refusing its StopTransaction would leave the session open.
    assert (await _call(cp, captured, "StopTransaction", _stop(transaction_id, 100)))[0] == 3
    session = await _session(session_factory, "CS-REG2")
    assert session is not None
    assert (session.status, session.energy_wh, session.meter_stop_wh) == (
        SessionStatus.COMPLETED,
        2_500,
        7_500,
    )
    async with session_factory() as db:
        [alert] = (await db.exec(select(Alert).where(Alert.station_id == "CS-REG2"))).all()
    assert (alert.code, alert.severity, alert.state) == (
        AlertCode.METER_REGISTER_BACKWARDS,
        AlertSeverity.MAJOR,
        AlertState.OPEN,
    )
    assert alert.info is not None
    assert "meterStop=100" in alert.info
    assert "meterStart=5000" in alert.info
    # A repeated stop (the charger retrying) changes nothing and counts no second fault.
    assert (await _call(cp, captured, "StopTransaction", _stop(transaction_id, 100)))[0] == 3
    async with session_factory() as db:
        [again] = (await db.exec(select(Alert).where(Alert.station_id == "CS-REG2"))).all()
    assert again.count == 1


@pytest.mark.parametrize(
    ("meter_start", "expected_code", "named"),
    [
        (-1, "PropertyConstraintViolation", "meterStart=-1"),
        # Past 64 bits the frame itself is refused, before any handler.
        (2**63, "TypeConstraintViolation", f"meterStart {2**63}"),
    ],
    ids=["negative", "past-64-bits"],
)
async def test_a_meter_start_no_register_can_hold_is_refused(
    session_factory: SessionFactory,
    group: GroupCommit | None,
    meter_start: int,
    expected_code: str,
    named: str,
) -> None:
    cp, captured = await _station(session_factory, group, "CS-REG3")
    kind, _, code, description, _ = await _call(
        cp, captured, "StartTransaction", _start("CS-REG3", meter_start)
    )
    assert (kind, code) == (4, expected_code)
    assert named in description
    assert await _session(session_factory, "CS-REG3") is None


async def test_a_meter_value_no_register_can_hold_is_refused_and_nothing_stored(
    session_factory: SessionFactory, group: GroupCommit | None
) -> None:
    cp, captured = await _station(session_factory, group, "CS-REG4")
    transaction_id = (await _call(cp, captured, "StartTransaction", _start("CS-REG4", 0)))[2][
        "transactionId"
    ]
    kind, _, code, description, _ = await _call(
        cp, captured, "MeterValues", _meter(transaction_id, 1e30)
    )
    assert (kind, code) == (4, "PropertyConstraintViolation")
    assert "Energy.Active.Import.Register=" in description
    async with session_factory() as db:
        assert (await db.exec(select(MeterSample))).all() == []
    # The next good reading is taken.
    assert (await _call(cp, captured, "MeterValues", _meter(transaction_id, 2_000, "01:06")))[
        0
    ] == 3
    session = await _session(session_factory, "CS-REG4")
    assert session is not None
    assert session.energy_wh == 2_000


async def test_an_end_far_ahead_of_our_clock_is_ours_and_a_start_before_2000_is_refused(
    session_factory: SessionFactory, group: GroupCommit | None
) -> None:
    cp, captured = await _station(session_factory, group, "CS-CLK")
    before = datetime.now(UTC)
    transaction_id = (await _call(cp, captured, "StartTransaction", _start("CS-CLK", 1_000)))[2][
        "transactionId"
    ]
    stop = {**_stop(transaction_id, 2_000), "timestamp": "9999-12-31T23:59:59Z"}
    assert (await _call(cp, captured, "StopTransaction", stop))[0] == 3
    session = await _session(session_factory, "CS-CLK")
    assert session is not None
    assert session.status == SessionStatus.COMPLETED
    assert session.ended_at is not None
    assert before <= session.ended_at <= datetime.now(UTC) + timedelta(days=1)
    # A charger whose clock was never set (1970) gets a clear error, not a 56-year session.
    unset = {**_start("CS-CLK", 3_000), "timestamp": "1970-01-01T00:00:05Z"}
    kind, _, code, description, _ = await _call(cp, captured, "StartTransaction", unset)
    assert (kind, code) == (4, "PropertyConstraintViolation")
    assert "clock is not set" in description
