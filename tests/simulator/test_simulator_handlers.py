"""The simulated chargers' answers to CSMS CALLs, without a socket (captured send)."""

import json
from typing import Any

import pytest

from app.simulator import SimulatedStation, SimulationConfig, create_station
from tests.ocpp.harness import CapturedConnection


async def answer(station: SimulatedStation, action: str, payload: dict[str, Any]) -> Any:
    """Route one CALL to the station's handler and return the CALLRESULT payload it sent."""
    socket = CapturedConnection()
    client = station._make_client(socket)  # type: ignore[arg-type]
    await client.route_message(json.dumps([2, "id-1", action, payload]))
    message_type, unique_id, *rest = socket.sent[0]
    assert (message_type, unique_id) == (3, "id-1"), socket.sent[0]
    return rest[0]


def make(protocol: str) -> SimulatedStation:
    config = SimulationConfig(url="ws://127.0.0.1:1/ocpp", protocol=protocol)
    return create_station(config, 0)


async def test_16_configuration_can_be_read_and_changed() -> None:
    station = make("1.6")
    changed = await answer(station, "ChangeConfiguration",
                           {"key": "MeterValueSampleInterval", "value": "30"})  # fmt: skip
    assert changed == {"status": "Accepted"}
    assert station.meter_interval_s == 30
    read = await answer(station, "GetConfiguration", {"key": ["MeterValueSampleInterval", "Nope"]})
    assert read == {
        "configurationKey": [{"key": "MeterValueSampleInterval", "readonly": False, "value": "30"}],
        "unknownKey": ["Nope"],
    }
    for key, value, status in [
        ("Nope", "1", "NotSupported"),
        ("NumberOfConnectors", "4", "Rejected"),
        ("HeartbeatInterval", "soon", "Rejected"),
    ]:
        result = await answer(station, "ChangeConfiguration", {"key": key, "value": value})
        assert result == {"status": status}, key
    assert station.stats.calls_answered == 5


async def test_201_variables_can_be_read_and_set() -> None:
    station = make("2.0.1")
    component, variable = {"name": "OCPPCommCtrlr"}, {"name": "HeartbeatInterval"}
    set_result = await answer(station, "SetVariables", {"setVariableData": [
        {"attributeValue": "15", "component": component, "variable": variable},
        {"attributeValue": "1", "component": {"name": "Nope"}, "variable": variable},
    ]})  # fmt: skip
    statuses = [r["attributeStatus"] for r in set_result["setVariableResult"]]
    assert statuses == ["Accepted", "UnknownComponent"]
    assert station.heartbeat_s == 15
    get_result = await answer(station, "GetVariables", {"getVariableData": [
        {"component": component, "variable": variable},
        {"component": component, "variable": {"name": "Nope"}},
    ]})  # fmt: skip
    results = get_result["getVariableResult"]
    assert results[0]["attributeValue"] == "15"
    assert results[1]["attributeStatus"] == "UnknownVariable"


@pytest.mark.parametrize(
    ("protocol", "action", "payload"),
    [
        pytest.param("1.6", "RemoteStartTransaction", {"idTag": "T", "connectorId": 1}, id="16"),
        pytest.param("2.0.1", "RequestStartTransaction",
                     {"idToken": {"idToken": "T", "type": "Central"}, "remoteStartId": 1,
                      "evseId": 1}, id="201"),
    ],
)  # fmt: skip
async def test_remote_start_is_rejected_on_a_busy_evse(
    protocol: str, action: str, payload: dict[str, Any]
) -> None:
    station = make(protocol)
    assert await answer(station, action, payload) == {"status": "Accepted"}
    assert [r.token for r in station.evses[1].start_requests] == ["T"]
    assert await answer(station, action, payload) == {"status": "Rejected"}  # already asked


@pytest.mark.parametrize(
    ("protocol", "action", "payload", "expected"),
    [
        pytest.param("1.6", "ChangeAvailability", {"connectorId": 1, "type": "Inoperative"},
                     "Scheduled", id="16-availability"),
        pytest.param("2.0.1", "ChangeAvailability",
                     {"operationalStatus": "Inoperative", "evse": {"id": 1}}, "Scheduled",
                     id="201-availability"),
        pytest.param("1.6", "TriggerMessage", {"requestedMessage": "FirmwareStatusNotification"},
                     "Accepted", id="16-trigger-firmware-status"),
        pytest.param("2.0.1", "TriggerMessage",
                     {"requestedMessage": "SignChargingStationCertificate"}, "NotImplemented",
                     id="201-trigger-unsupported"),
        pytest.param("1.6", "UnlockConnector", {"connectorId": 9}, "NotSupported",
                     id="16-unlock-unknown"),
        pytest.param("2.0.1", "UnlockConnector", {"evseId": 1, "connectorId": 1}, "Unlocked",
                     id="201-unlock"),
        pytest.param("1.6", "RemoteStopTransaction", {"transactionId": 99}, "Rejected",
                     id="16-stop-unknown"),
        pytest.param("2.0.1", "RequestStopTransaction", {"transactionId": "nope"}, "Rejected",
                     id="201-stop-unknown"),
    ],
)  # fmt: skip
async def test_answers_while_charging(
    protocol: str, action: str, payload: dict[str, Any], expected: str
) -> None:
    station = make(protocol)
    station.begin_transaction(1, "T")  # queued only: no connection needed
    result = await answer(station, action, payload)
    assert result["status"] == expected
