"""The simulator against a recording central system (the `ocpp` package's server side)."""

import asyncio
import base64
from typing import Any

import pytest
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201

from app.simulator import SimulatedStation, SimulationConfig, create_station, run_simulation
from tests.simulator.csms import (
    RecordingCsms,
    measurands,
    meter_frames,
    running_csms,
    tx_frames,
    tx_key,
)

pytestmark = pytest.mark.e2e
PROTOCOLS = [pytest.param("1.6", id="ocpp16"), pytest.param("2.0.1", id="ocpp201")]
ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"


def station_for(csms: RecordingCsms, protocol: str, **options: Any) -> SimulatedStation:
    config = SimulationConfig(
        url=csms.url, stations=1, protocol=protocol, evses_per_station=1, password="pw-1",
        reconnect_delay_s=0.05, **options,
    )  # fmt: skip
    return create_station(config, 0)


async def test_a_station_runs_whole_sessions(protocol: str) -> None:
    async with running_csms() as csms:
        config = SimulationConfig(
            url=csms.url, stations=1, protocol=protocol, evses_per_station=2, password="pw-1",
            time_scale=600, meter_interval_s=60, duration_s=30,
        )  # fmt: skip
        stop = asyncio.Event()
        sim = asyncio.create_task(run_simulation(config, stop=stop))
        sid = config.station_id(0)
        await csms.wait_for(lambda _: tx_frames(csms, sid, "Ended"), within_s=20)
        stop.set()
        async with asyncio.timeout(15):
            stats = await sim

    basic = base64.b64encode(f"{sid}:pw-1".encode()).decode()
    assert csms.auth_headers[sid] == f"Basic {basic}"
    actions = [f.action for f in csms.frames]
    assert actions[0] == "BootNotification"
    boot = csms.frames[0].payload
    if protocol == "1.6":
        assert boot["chargePointVendor"] == "chargenet"
        assert boot["chargePointModel"] == "SimCharger"
        available = [p["connectorId"] for p in csms.of("StatusNotification") if p["status"] ==
                     "Available"]  # fmt: skip
    else:
        assert boot["chargingStation"]["vendorName"] == "chargenet"
        assert boot["chargingStation"]["model"] == "SimCharger"
        available = [p["evseId"] for p in csms.of("StatusNotification")
                     if p["connectorStatus"] == "Available"]  # fmt: skip
    assert {1, 2} <= set(available)
    assert "Authorize" in actions
    ended = tx_frames(csms, sid, "Ended")[0]
    if protocol == "1.6":  # StartTransaction.conf assigned the id the stop carries
        started = tx_frames(csms, sid, "Started")[ended["transactionId"] - 100]
    else:
        started = next(p for p in tx_frames(csms, sid, "Started") if tx_key(p) == tx_key(ended))
    assert actions.index("Authorize") < actions.index(
        "StartTransaction" if protocol == "1.6" else "TransactionEvent"
    )
    meters = [measurands(p) for p in meter_frames(csms, sid, tx_key(ended))]
    assert meters, "no meter values during the session"
    energies = [m[ENERGY] for m in meters]
    assert energies == sorted(energies)
    assert energies[-1] > energies[0]
    assert all(0 < m[POWER] <= 22_000 for m in meters)
    assert all(m["Current.Import"] == pytest.approx(m[POWER] / 690, abs=0.1) for m in meters)
    if protocol == "1.6":
        assert started["idTag"] == "SIMTOKEN01"
        assert ended["meterStop"] >= started["meterStart"]
        assert ended["transactionId"] >= 100
    else:
        assert started["idToken"] == {"idToken": "SIMTOKEN01", "type": "ISO14443"}
        assert measurands(ended)[ENERGY] >= measurands(started)[ENERGY]
        assert (
            ended["transactionInfo"]["transactionId"] == started["transactionInfo"]["transactionId"]
        )
    assert stats.transactions_started >= 1
    assert stats.transactions_stopped == stats.transactions_started  # stopped at shutdown too
    assert stats.errors == 0
    assert stats.energy_wh > 0


@pytest.fixture(params=PROTOCOLS)
def protocol(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


def remote_start(protocol: str, token: str) -> Any:
    if protocol == "1.6":
        return call16.RemoteStartTransaction(id_tag=token, connector_id=1)
    return call201.RequestStartTransaction(
        id_token={"id_token": token, "type": "Central"}, remote_start_id=7, evse_id=1
    )


def watt_profile(protocol: str, limit_w: int) -> Any:
    schedule = {
        "charging_rate_unit": "W",
        "charging_schedule_period": [{"start_period": 0, "limit": limit_w}],
    }
    if protocol == "1.6":
        return call16.SetChargingProfile(
            connector_id=1,
            cs_charging_profiles={
                "charging_profile_id": 1, "stack_level": 0, "charging_profile_purpose": "TxProfile",
                "charging_profile_kind": "Relative", "charging_schedule": schedule,
            },
        )  # fmt: skip
    return call201.SetChargingProfile(
        evse_id=1,
        charging_profile={
            "id": 1, "stack_level": 0, "charging_profile_purpose": "TxDefaultProfile",
            "charging_profile_kind": "Relative", "charging_schedule": [{"id": 1, **schedule}],
        },
    )  # fmt: skip


def remote_stop(protocol: str, started: dict[str, Any]) -> Any:
    if protocol == "1.6":
        return call16.RemoteStopTransaction(transaction_id=100)  # the CSMS's first id
    return call201.RequestStopTransaction(transaction_id=tx_key(started))


async def test_remote_start_charging_profile_and_remote_stop(protocol: str) -> None:
    async with running_csms() as csms:
        # idle for ever: only the CSMS starts a session; one meter sample per 0.1 s
        station = station_for(csms, protocol, meter_interval_s=0.1, time_scale=1.0)
        station.idle_s = (1e6, 1e6)
        sid = station.station_id
        runner = asyncio.create_task(station.run())
        try:
            await csms.wait_for(lambda _: csms.of("StatusNotification", sid))
            answer = await csms.call(sid, remote_start(protocol, "REMOTE01"))
            assert answer.status == "Accepted"
            started = await csms.wait_for(lambda _: next(iter(tx_frames(csms, sid, "Started")),
                                                         None))  # fmt: skip
            before = await csms.wait_for(lambda _: meter_frames(csms, sid)[1:])
            assert all(measurands(p)[POWER] >= 7_400 for p in before)

            answer = await csms.call(sid, watt_profile(protocol, 2_000))
            assert answer.status == "Accepted"
            seen = len(meter_frames(csms, sid))
            capped = await csms.wait_for(lambda _: meter_frames(csms, sid)[seen:])
            assert measurands(capped[0])[POWER] == 2_000
            assert measurands(capped[0])["Current.Import"] == pytest.approx(2.9, abs=0.05)
            assert station.charging_profiles[0][0] == 1

            answer = await csms.call(sid, remote_stop(protocol, started))
            assert answer.status == "Accepted"
            ended = await csms.wait_for(lambda _: tx_frames(csms, sid, "Ended"))
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)

    if protocol == "1.6":
        assert started["idTag"] == "REMOTE01"
        assert ended[0]["reason"] == "Remote"
        assert ended[0]["transactionId"] == 100
    else:
        assert started["triggerReason"] == "RemoteStart"
        assert started["transactionInfo"]["remoteStartId"] == 7
        assert ended[0]["transactionInfo"]["stoppedReason"] == "Remote"
        assert ended[0]["triggerReason"] == "RemoteStop"
    energies = [measurands(p)[ENERGY] for p in meter_frames(csms, sid)]
    assert energies == sorted(energies)
    assert measurands(ended[0])[ENERGY] >= energies[-1]


async def test_transaction_messages_queued_offline_are_sent_after_reconnect(
    protocol: str,
) -> None:
    async with running_csms() as csms:
        station = station_for(csms, protocol)
        sid = station.station_id
        async with station.connect():
            assert await station.boot() == "Accepted"
            tx = await station.start_transaction(1, "SIMTOKEN01")
            await csms.drop(sid)
            async with asyncio.timeout(5):
                await station.wait_closed()
        station.queue_meter_values(1)
        station.end_transaction(1, "local")
        assert len(station.outbox) == 2  # kept while offline
        assert tx_frames(csms, sid, "Ended") == []

        async with station.connect():
            assert await station.boot() == "Accepted"
            async with asyncio.timeout(5):
                await station.flush()
        ended = tx_frames(csms, sid, "Ended")

    assert len(ended) == 1
    assert station.outbox == type(station.outbox)()
    if protocol == "1.6":
        assert tx.remote_id == 100
        assert ended[0]["transactionId"] == 100
        assert meter_frames(csms, sid)[-1]["transactionId"] == 100
    else:
        assert ended[0]["offline"] is True
        assert [p["seqNo"] for p in csms.of("TransactionEvent")] == [0, 1, 2]
    assert measurands(ended[0])[ENERGY] == tx.meter_stop_wh


async def test_a_pending_boot_is_retried_until_accepted(protocol: str) -> None:
    async with running_csms(boot_statuses=["Pending", "Accepted"], interval=1) as csms:
        station = station_for(csms, protocol)
        runner = asyncio.create_task(station.run())
        try:
            await csms.wait_for(lambda _: csms.of("StatusNotification"))
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
    actions = [f.action for f in csms.frames]
    assert actions[:2] == ["BootNotification", "BootNotification"]
    assert station.boot_status == "Accepted"


async def test_a_dropped_connection_is_reopened_and_the_station_boots_again(
    protocol: str,
) -> None:
    async with running_csms() as csms:
        station = station_for(csms, protocol)
        sid = station.station_id
        runner = asyncio.create_task(station.run())
        try:
            await csms.wait_for(lambda _: csms.of("StatusNotification"))
            await csms.drop(sid)
            statuses = len(csms.of("StatusNotification"))
            # statuses follow the second boot's answer
            await csms.wait_for(lambda _: len(csms.of("StatusNotification")) > statuses)
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
    assert [f.action for f in csms.frames].count("BootNotification") == 2
    assert station.stats.reconnects == 1
    assert station.stats.boots == 2


async def test_trigger_message_and_reset_are_acted_on(protocol: str) -> None:
    if protocol == "1.6":
        trigger: Any = call16.TriggerMessage(requested_message="StatusNotification", connector_id=1)
        reset: Any = call16.Reset(type="Soft")
    else:
        trigger = call201.TriggerMessage(requested_message="StatusNotification", evse={"id": 1})
        reset = call201.Reset(type="Immediate")
    async with running_csms() as csms:
        station = station_for(csms, protocol)
        station.idle_s = (1e6, 1e6)
        sid = station.station_id
        runner = asyncio.create_task(station.run())
        try:
            await csms.wait_for(lambda _: csms.of("StatusNotification"))
            assert (await csms.call(sid, trigger)).status == "Accepted"
            await csms.wait_for(lambda _: len(csms.of("StatusNotification")) == 2)
            assert (await csms.call(sid, reset)).status == "Accepted"
            await csms.wait_for(lambda _: len(csms.of("StatusNotification")) == 3)  # rebooted
        finally:
            runner.cancel()
            await asyncio.gather(runner, return_exceptions=True)
    boots = csms.of("BootNotification")
    assert len(boots) == 2
    if protocol == "2.0.1":
        assert [b["reason"] for b in boots] == ["PowerUp", "RemoteReset"]
