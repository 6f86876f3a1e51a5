"""OCPP handlers without a socket: `route_message` with a captured send (as mobilityhouse/ocpp)."""

import asyncio
import json
from typing import Any

import pytest
from sqlmodel import select

from app.db.engine import SessionFactory
from app.db.models import ChargingSession, ChargingStation, Evse
from app.domain.enums import EvseStatus
from app.events import InProcessEventBus, topics
from app.services import stations
from tests.factories import make_station
from tests.ocpp.harness import handlers16, handlers201


async def test_v16_boot_notification_answers_with_interval_and_stores_boot(
    session_factory: SessionFactory,
) -> None:
    await make_station(session_factory, station_id="CS-H1")
    cp, connection = handlers16(session_factory, None, "CS-H1", heartbeat_interval_s=77)
    await cp.route_message(
        json.dumps(
            [
                2,
                "1",
                "BootNotification",
                {"chargePointVendor": "V", "chargePointModel": "M", "firmwareVersion": "1.0"},
            ]
        )
    )
    [[kind, unique_id, payload]] = connection.sent
    assert (kind, unique_id, payload["status"], payload["interval"]) == (3, "1", "Accepted", 77)
    async with session_factory() as db:
        station = await db.get(ChargingStation, "CS-H1")
    assert station is not None
    assert station.firmware_version == "1.0"


async def test_v16_connector_zero_faulted_applies_to_every_evse(
    session_factory: SessionFactory,
) -> None:
    await make_station(session_factory, station_id="CS-H0", evses=2)
    bus = InProcessEventBus()
    cp, connection = handlers16(session_factory, None, "CS-H0", bus=bus)
    async with bus.subscribe(topics.ALL_EVSE_STATUS) as subscription:
        for status in ("Available", "Faulted"):
            await cp.route_message(
                json.dumps(
                    [
                        2,
                        status,
                        "StatusNotification",
                        {"connectorId": 0, "errorCode": "OtherError", "status": status},
                    ]
                )
            )
        async with asyncio.timeout(5):
            events = [(await subscription.get())[1] for _ in range(2)]
    assert [frame[0] for frame in connection.sent] == [3, 3]
    assert {(e["evse_uid"], e["status"]) for e in events} == {
        ("CS-H0*1", "OUTOFORDER"),
        ("CS-H0*2", "OUTOFORDER"),
    }
    async with session_factory() as db:
        statuses = {e.status for e in (await db.exec(select(Evse))).all()}
    assert statuses == {EvseStatus.OUTOFORDER}


async def test_a_failing_service_answers_internal_error_and_the_next_message_works(
    session_factory: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    await make_station(session_factory, station_id="CS-H2")
    cp, connection = handlers16(session_factory, None, "CS-H2")

    async def broken(**_: Any) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(stations, "record_heartbeat", broken)
    await cp.route_message('[2, "hb", "Heartbeat", {}]')
    monkeypatch.undo()
    await cp.route_message('[2, "hb2", "Heartbeat", {}]')
    assert connection.sent[0][:3] == [4, "hb", "InternalError"]
    assert "fire" not in json.dumps(connection.sent[0])  # no internals leak to the station
    assert connection.sent[1][:2] == [3, "hb2"]


async def test_v201_transaction_event_without_evse_for_unknown_transaction_is_rejected(
    session_factory: SessionFactory,
) -> None:
    await make_station(session_factory, station_id="CS-H3")
    cp, connection = handlers201(session_factory, None, "CS-H3")
    await cp.route_message(
        json.dumps(
            [
                2,
                "te",
                "TransactionEvent",
                {
                    "eventType": "Updated",
                    "timestamp": "2026-01-05T10:00:00Z",
                    "triggerReason": "MeterValuePeriodic",
                    "seqNo": 3,
                    "transactionInfo": {"transactionId": "LOST"},
                },
            ]
        )
    )
    [[kind, unique_id, code, description, _]] = connection.sent
    assert (kind, unique_id, code) == (4, "te", "PropertyConstraintViolation")
    assert "LOST" in description
    async with session_factory() as db:
        assert (await db.exec(select(ChargingSession))).all() == []


async def test_v201_updated_event_creates_a_session_whose_start_was_lost(
    session_factory: SessionFactory,
) -> None:
    await make_station(session_factory, station_id="CS-H4")
    cp, connection = handlers201(session_factory, None, "CS-H4")
    await cp.route_message(
        json.dumps(
            [
                2,
                "te",
                "TransactionEvent",
                {
                    "eventType": "Updated",
                    "timestamp": "2026-01-05T10:00:00Z",
                    "triggerReason": "MeterValuePeriodic",
                    "seqNo": 5,
                    "evse": {"id": 2},
                    "transactionInfo": {"transactionId": "T-5"},
                    "meterValue": [
                        {"timestamp": "2026-01-05T10:00:00Z", "sampledValue": [{"value": 1500}]}
                    ],
                },
            ]
        )
    )
    assert connection.sent[0][0] == 3
    async with session_factory() as db:
        [session] = (await db.exec(select(ChargingSession))).all()
        evse = await db.get(Evse, session.evse_id)
    assert (session.transaction_id, session.meter_start_wh, session.energy_wh) == ("T-5", 1500, 0)
    assert evse is not None
    assert evse.ocpp_evse_id == 2
