"""End to end: status changes stored and published, RFID sessions with meter values."""

import asyncio
from typing import Any

import pytest
from ocpp import v16, v201
from sqlmodel import select

from app.db.models import ChargingSession, Evse, MeterSample
from app.domain.enums import AuthorizationStatus, EvseStatus, SessionStatus
from app.events import topics
from tests.conftest import LiveServer
from tests.factories import make_id_token, make_location, make_station
from tests.ocpp.clients import V201, boot16, boot201, charger

pytestmark = pytest.mark.e2e

T0 = "2026-01-05T10:00:00+00:00"


async def _events(subscription: Any, count: int) -> list[dict[str, Any]]:
    async with asyncio.timeout(5):
        return [(await subscription.get())[1] for _ in range(count)]


async def test_1_6_status_changes_are_stored_and_published(live_server: LiveServer) -> None:
    runtime = live_server.runtime
    location = await make_location(runtime.session_factory)
    await make_station(runtime.session_factory, station_id="CS-S16", location=location, evses=2)
    async with (
        runtime.bus.subscribe(topics.evse_status(location.id)) as by_location,
        runtime.bus.subscribe(topics.ALL_EVSE_STATUS) as everything,
        charger(live_server, "CS-S16") as cp,
    ):
        await boot16(cp)
        for connector, status in [
            (1, "Charging"),
            (1, "Charging"),
            (2, "Faulted"),
            (3, "Available"),
        ]:
            await cp.call(
                v16.call.StatusNotification(
                    connector_id=connector,
                    error_code="GroundFailure" if status == "Faulted" else "NoError",
                    status=status,
                )
            )
        events = await _events(by_location, 3)  # the repeated Charging is no change
        assert await _events(everything, 3) == events
    assert [(e["evse_uid"], e["status"], e["previous_status"]) for e in events] == [
        ("CS-S16*1", "CHARGING", "UNKNOWN"),
        ("CS-S16*2", "OUTOFORDER", "UNKNOWN"),
        ("CS-S16*3", "AVAILABLE", "UNKNOWN"),
    ]
    assert events[1]["error_code"] == "GroundFailure"
    async with runtime.session_factory() as db:
        evses = (await db.exec(select(Evse).order_by(Evse.ocpp_evse_id))).all()
    assert [(e.ocpp_evse_id, e.status) for e in evses] == [
        (1, EvseStatus.CHARGING),
        (2, EvseStatus.OUTOFORDER),
        (3, EvseStatus.AVAILABLE),  # created on the fly
    ]


async def test_2_0_1_status_change_is_stored_and_published(live_server: LiveServer) -> None:
    runtime = live_server.runtime
    await make_station(runtime.session_factory, station_id="CS-S201")
    async with (
        runtime.bus.subscribe(topics.evse_status(None)) as subscription,
        charger(live_server, "CS-S201", version=V201) as cp,
    ):
        await boot201(cp)
        await cp.call(
            v201.call.StatusNotification(
                timestamp=T0, connector_status="Occupied", evse_id=1, connector_id=1
            )
        )
        [event] = await _events(subscription, 1)
    assert (event["status"], event["changed_at"]) == ("CHARGING", T0)
    async with runtime.session_factory() as db:
        evse = (await db.exec(select(Evse).where(Evse.station_id == "CS-S201"))).one()
    assert evse.status == EvseStatus.CHARGING


def _meter16(at: str, wh: str, watts: str) -> dict[str, Any]:
    return {
        "timestamp": at,
        "sampled_value": [
            {"value": wh, "measurand": "Energy.Active.Import.Register", "unit": "kWh"},
            {"value": watts, "measurand": "Power.Active.Import", "unit": "W"},
        ],
    }


async def test_1_6_rfid_session_with_meter_values(live_server: LiveServer) -> None:
    runtime = live_server.runtime
    await make_station(runtime.session_factory, station_id="CS-TX16")
    await make_id_token(runtime.session_factory, uid="CAFE0001")
    async with charger(live_server, "CS-TX16") as cp:
        await boot16(cp)
        authorized = await cp.call(v16.call.Authorize(id_tag="cafe0001"))
        assert authorized.id_tag_info["status"] == "Accepted"
        start = v16.call.StartTransaction(
            connector_id=1, id_tag="CAFE0001", meter_start=1_000_000, timestamp=T0
        )
        started = await cp.call(start)
        again = await cp.call(start)  # retransmission: same transaction, no second session
        assert again.transaction_id == started.transaction_id
        assert started.id_tag_info["status"] == "Accepted"
        tx = started.transaction_id
        await cp.call(
            v16.call.MeterValues(
                connector_id=1,
                transaction_id=tx,
                meter_value=[_meter16("2026-01-05T10:10:00Z", "1001.5", "11000")],
            )
        )
        stop = v16.call.StopTransaction(
            meter_stop=1_004_250,
            timestamp="2026-01-05T10:30:00Z",
            transaction_id=tx,
            reason="EVDisconnected",
            id_tag="CAFE0001",
        )
        await cp.call(stop)
        await cp.call(stop)  # a repeated stop changes nothing
    async with runtime.session_factory() as db:
        [session] = (await db.exec(select(ChargingSession))).all()
        samples = (await db.exec(select(MeterSample).order_by(MeterSample.measurand))).all()
    assert session.id == tx
    assert session.transaction_id == str(tx)
    assert session.status == SessionStatus.COMPLETED
    assert (session.meter_start_wh, session.meter_stop_wh, session.energy_wh) == (
        1_000_000,
        1_004_250,
        4_250,
    )
    assert session.stop_reason == "EVDisconnected"
    assert [(s.measurand, s.value, s.unit, s.session_id) for s in samples] == [
        ("Energy.Active.Import.Register", 1_001_500.0, "Wh", tx),
        ("Power.Active.Import", 11_000.0, "W", tx),
    ]


async def test_1_6_unknown_and_blocked_tokens(live_server: LiveServer) -> None:
    runtime = live_server.runtime
    await make_station(runtime.session_factory, station_id="CS-TOK")
    await make_id_token(runtime.session_factory, uid="BLOCKED1", status=AuthorizationStatus.BLOCKED)
    async with charger(live_server, "CS-TOK") as cp:
        unknown = await cp.call(v16.call.Authorize(id_tag="NOBODY"))
        blocked = await cp.call(v16.call.Authorize(id_tag="BLOCKED1"))
    assert unknown.id_tag_info["status"] == "Invalid"
    assert blocked.id_tag_info["status"] == "Blocked"


def _event201(kind: str, seq: int, at: str, wh: float, **extra: Any) -> Any:
    return v201.call.TransactionEvent(
        event_type=kind,
        timestamp=at,
        trigger_reason="MeterValuePeriodic" if kind == "Updated" else "Authorized",
        seq_no=seq,
        transaction_info={"transaction_id": "TX-201-A", **extra.pop("info", {})},
        meter_value=[
            {
                "timestamp": at,
                "sampled_value": [
                    {
                        "value": wh,
                        "measurand": "Energy.Active.Import.Register",
                        "unit_of_measure": {"unit": "kWh"},
                    },
                    {"value": 64, "measurand": "SoC", "unit_of_measure": {"unit": "Percent"}},
                ],
            }
        ],
        **extra,
    )


async def test_2_0_1_rfid_session_with_meter_values(live_server: LiveServer) -> None:
    runtime = live_server.runtime
    await make_station(runtime.session_factory, station_id="CS-TX201")
    await make_id_token(runtime.session_factory, uid="RFID-201")
    token = {"id_token": "RFID-201", "type": "ISO14443"}
    async with charger(live_server, "CS-TX201", version=V201) as cp:
        await boot201(cp)
        started = await cp.call(
            _event201("Started", 0, T0, 20.0, evse={"id": 1, "connector_id": 1}, id_token=token)
        )
        assert started.id_token_info["status"] == "Accepted"
        update = _event201("Updated", 1, "2026-01-05T10:15:00Z", 27.5)
        await cp.call(update)
        await cp.call(update)  # same seqNo: not applied twice
        await cp.call(
            _event201("Ended", 2, "2026-01-05T10:40:00Z", 33.25, info={"stopped_reason": "Local"})
        )
        await cp.call(
            _event201("Ended", 2, "2026-01-05T10:40:00Z", 33.25, info={"stopped_reason": "Local"})
        )
    async with runtime.session_factory() as db:
        [session] = (await db.exec(select(ChargingSession))).all()
        samples = (await db.exec(select(MeterSample))).all()
    assert session.transaction_id == "TX-201-A"
    assert session.status == SessionStatus.COMPLETED
    assert (session.meter_start_wh, session.meter_stop_wh, session.energy_wh) == (
        20_000,
        33_250,
        13_250,
    )
    assert session.id_token == "RFID-201"
    assert session.soc_percent == 64
    assert session.stop_reason == "Local"
    assert session.last_seq_no == 2
    assert len(samples) == 6  # 3 events x 2 values; the retransmissions added none
    assert {s.session_id for s in samples} == {session.id}
