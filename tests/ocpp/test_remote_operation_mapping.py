"""Remote operations at the OCPP edge: each domain command as a schema-valid 1.6 and 2.0.1 CALL,
each answer as an outcome, and the status notifications (without a socket) moving the jobs."""

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from ocpp.charge_point import remove_nones, snake_to_camel_case
from ocpp.messages import Call, validate_payload
from ocpp.v16 import call_result as result16
from ocpp.v201 import call_result as result201

from app.db.engine import SessionFactory
from app.db.models import ChargingStation, DiagnosticsUpload, FirmwareUpdate, RemoteCommand
from app.domain import commands as domain
from app.domain.commands import CommandStatus
from app.domain.errors import InvalidInput
from app.events import InProcessEventBus
from app.ocpp.v16 import mapping as mapping16
from app.ocpp.v201 import mapping as mapping201
from app.services.commands import CommandKind, RemoteCommandStatus, command_topic
from tests.factories import make_station
from tests.ocpp.harness import handlers16, handlers201

AT = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
V16, V201 = "1.6", "2.0.1"


async def _valid(version: str, payload: Any) -> tuple[str, dict[str, Any]]:
    """The CALL's action and camelCase payload, after the package's JSON-schema validation."""
    body = snake_to_camel_case(remove_nones(dataclasses.asdict(payload)))
    action = type(payload).__name__
    await validate_payload(Call("1", action, body), version)
    return action, body


@pytest.mark.parametrize(
    ("command", "version", "action", "expected"),
    [
        (domain.UnlockConnector(ocpp_evse_id=2), V16, "UnlockConnector", {"connectorId": 2}),
        (domain.UnlockConnector(ocpp_evse_id=2), V201, "UnlockConnector",
         {"evseId": 2, "connectorId": 1}),
        (domain.ChangeAvailability(operative=False), V16, "ChangeAvailability",
         {"connectorId": 0, "type": "Inoperative"}),
        (domain.ChangeAvailability(operative=True, ocpp_evse_id=1), V201, "ChangeAvailability",
         {"operationalStatus": "Operative", "evse": {"id": 1}}),
        (domain.GetConfiguration(), V16, "GetConfiguration", {}),
        (domain.GetConfiguration(keys=("OCPPCommCtrlr.HeartbeatInterval",)), V201, "GetVariables",
         {"getVariableData": [{"component": {"name": "OCPPCommCtrlr"},
                               "variable": {"name": "HeartbeatInterval"}}]}),
        (domain.ChangeConfiguration(key="HeartbeatInterval", value="60"), V16,
         "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "60"}),
        (domain.ChangeConfiguration(key="AuthCtrlr.LocalAuthorizeOffline", value="false"), V201,
         "SetVariables", {"setVariableData": [{"attributeValue": "false",
                          "component": {"name": "AuthCtrlr"},
                          "variable": {"name": "LocalAuthorizeOffline"}}]}),
        (domain.ClearCache(), V16, "ClearCache", {}),
        (domain.ClearCache(), V201, "ClearCache", {}),
        (domain.UpdateFirmware(location="https://fw.example/a-2.0.bin", retrieve_at=AT,
                               request_id=7), V16, "UpdateFirmware",
         {"location": "https://fw.example/a-2.0.bin", "retrieveDate": AT.isoformat()}),
        (domain.UpdateFirmware(location="https://fw.example/a-2.0.bin", retrieve_at=AT,
                               request_id=7), V201, "UpdateFirmware",
         {"requestId": 7, "firmware": {"location": "https://fw.example/a-2.0.bin",
                                       "retrieveDateTime": AT.isoformat()}}),
        (domain.UploadDiagnostics(location="ftp://logs.example/in", request_id=9), V16,
         "GetDiagnostics", {"location": "ftp://logs.example/in"}),
        (domain.UploadDiagnostics(location="ftp://logs.example/in", request_id=9), V201,
         "GetLog", {"log": {"remoteLocation": "ftp://logs.example/in"},
                    "logType": "DiagnosticsLog", "requestId": 9}),
        (domain.TriggerMessage(message="LogStatusNotification"), V16, "TriggerMessage",
         {"requestedMessage": "DiagnosticsStatusNotification"}),
        (domain.Reset(hard=True), V201, "Reset", {"type": "Immediate"}),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)  # fmt: skip
async def test_each_operation_is_a_schema_valid_call(
    command: domain.StationCommand, version: str, action: str, expected: dict[str, Any]
) -> None:
    to_payload = mapping16.command_payload if version == V16 else mapping201.command_payload
    assert await _valid(version, to_payload(command)) == (action, expected)


@pytest.mark.parametrize(
    ("command", "version", "bad"),
    [
        (domain.GetConfiguration(), V201, "keys is empty"),
        (domain.GetConfiguration(keys=("HeartbeatInterval",)), V201, "Component.Variable"),
        (domain.ChangeConfiguration(key="K" * 51, value="1"), V16, "1 to 50"),
        (domain.TriggerMessage(message="TransactionEvent"), V16, "TransactionEvent"),
    ],
)
def test_an_operation_the_version_cannot_express_names_the_bad_value(
    command: domain.StationCommand, version: str, bad: str
) -> None:
    to_payload = mapping16.command_payload if version == V16 else mapping201.command_payload
    with pytest.raises(InvalidInput, match=bad):
        to_payload(command)


@pytest.mark.parametrize(
    ("result", "status", "detail"),
    [
        (result16.UnlockConnector(status="Unlocked"), CommandStatus.ACCEPTED,
         {"status": "Unlocked"}),
        (result16.UnlockConnector(status="UnlockFailed"), CommandStatus.REJECTED,
         {"status": "UnlockFailed"}),
        (result16.ChangeConfiguration(status="RebootRequired"), CommandStatus.ACCEPTED,
         {"status": "RebootRequired"}),
        (result16.ChangeConfiguration(status="NotSupported"), CommandStatus.NOT_SUPPORTED,
         {"status": "NotSupported"}),
        (result16.ChangeAvailability(status="Scheduled"), CommandStatus.ACCEPTED,
         {"status": "Scheduled"}),
        (result16.UpdateFirmware(), CommandStatus.ACCEPTED, {"status": "Accepted"}),
        (result16.GetDiagnostics(), CommandStatus.REJECTED, {"status": "NoDiagnostics"}),
        (result16.GetDiagnostics(file_name="d.log"), CommandStatus.ACCEPTED,
         {"status": "Accepted", "file_name": "d.log"}),
        (result16.GetConfiguration(
            configuration_key=[{"key": "A", "readonly": True, "value": "1"}, {"key": "B"}],
            unknown_key=["C"]), CommandStatus.ACCEPTED,
         {"status": "Accepted", "unknown_keys": ["C"], "configuration": [
             {"key": "A", "value": "1", "readonly": True},
             {"key": "B", "value": None, "readonly": False}]}),
    ],
)  # fmt: skip
def test_v16_answers_become_outcomes(
    result: Any, status: CommandStatus, detail: dict[str, Any]
) -> None:
    outcome = mapping16.command_outcome(result)
    assert (outcome.status, outcome.detail) == (status, detail)


@pytest.mark.parametrize(
    ("result", "status", "answer"),
    [
        (result201.UnlockConnector(status="OngoingAuthorizedTransaction"),
         CommandStatus.REJECTED, "OngoingAuthorizedTransaction"),
        (result201.UpdateFirmware(status="InvalidCertificate"), CommandStatus.REJECTED,
         "InvalidCertificate"),
        (result201.GetLog(status="Accepted", filename="x.log"), CommandStatus.ACCEPTED,
         "Accepted"),
        (result201.SetVariables(set_variable_result=[{
            "attribute_status": "RebootRequired", "component": {"name": "C"},
            "variable": {"name": "V"}}]), CommandStatus.ACCEPTED, "RebootRequired"),
        (result201.SetVariables(set_variable_result=[{
            "attribute_status": "UnknownVariable", "component": {"name": "C"},
            "variable": {"name": "V"}}]), CommandStatus.REJECTED, "UnknownVariable"),
    ],
)  # fmt: skip
def test_v201_answers_become_outcomes(result: Any, status: CommandStatus, answer: str) -> None:
    outcome = mapping201.command_outcome(result)
    assert (outcome.status, outcome.detail["status"]) == (status, answer)


def test_v201_get_variables_keeps_read_values_and_names_the_refused() -> None:
    result = result201.GetVariables(
        get_variable_result=[
            {"attribute_status": "Accepted", "attribute_value": "30",
             "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
            {"attribute_status": "UnknownComponent", "component": {"name": "Nope"},
             "variable": {"name": "X"}},
        ]
    )  # fmt: skip
    outcome = mapping201.command_outcome(result)
    assert outcome.status == CommandStatus.ACCEPTED
    assert outcome.detail["configuration"] == [
        {"key": "OCPPCommCtrlr.HeartbeatInterval", "value": "30", "readonly": None}
    ]
    assert outcome.detail["unknown_keys"] == ["Nope.X"]


async def _job(
    session_factory: SessionFactory, station_id: str, kind: CommandKind
) -> tuple[str, int]:
    """A live command (ACCEPTED_PENDING) and its firmware or diagnostics job."""
    async with session_factory() as db:
        command = RemoteCommand(
            id=f"cmd-{station_id}", kind=kind, status=RemoteCommandStatus.ACCEPTED_PENDING,
            station_id=station_id, detail={"actor": "operator-user:1", "action": "x"},
        )  # fmt: skip
        db.add(command)
        await db.flush()
        job: FirmwareUpdate | DiagnosticsUpload
        if kind == CommandKind.UPDATE_FIRMWARE:
            job = FirmwareUpdate(
                station_id=station_id, command_id=command.id, location="https://f/1.bin",
                retrieve_at=AT, previous_version="1.0", requested_by="operator-user:1",
            )  # fmt: skip
        else:
            job = DiagnosticsUpload(
                station_id=station_id, command_id=command.id, location="https://l/",
                requested_by="operator-user:1",
            )  # fmt: skip
        db.add(job)
        await db.commit()
        assert job.id is not None
        return command.id, job.id


async def test_v16_firmware_notifications_move_the_newest_job_to_installed(
    session_factory: SessionFactory,
) -> None:
    await make_station(session_factory, station_id="CS-FW16")
    command_id, job_id = await _job(session_factory, "CS-FW16", CommandKind.UPDATE_FIRMWARE)
    bus = InProcessEventBus()
    cp, connection = handlers16(session_factory, None, "CS-FW16", bus=bus)
    async with bus.subscribe(command_topic(command_id)) as events:
        await cp.route_message('[2,"a","FirmwareStatusNotification",{"status":"Downloading"}]')
        assert (await events.get())[1]["status"] == RemoteCommandStatus.ACCEPTED_PENDING
    async with session_factory() as db:
        station = await db.get(ChargingStation, "CS-FW16")
        assert station is not None
        station.firmware_version = "2.0"  # the reboot's BootNotification came in between
        db.add(station)
        await db.commit()
    await cp.route_message('[2,"b","FirmwareStatusNotification",{"status":"Installed"}]')
    assert [frame[:2] for frame in connection.sent] == [[3, "a"], [3, "b"]]
    async with session_factory() as db:
        job = await db.get(FirmwareUpdate, job_id)
        command = await db.get(RemoteCommand, command_id)
    assert job is not None
    assert command is not None
    assert (job.status, job.installed_version) == ("Installed", "2.0")
    assert job.finished_at is not None
    assert (command.status, command.progress) == (RemoteCommandStatus.ACCEPTED, "Installed")


async def test_v201_log_notification_with_request_id_fails_the_upload(
    session_factory: SessionFactory,
) -> None:
    await make_station(session_factory, station_id="CS-LOG")
    command_id, job_id = await _job(session_factory, "CS-LOG", CommandKind.UPLOAD_DIAGNOSTICS)
    cp, connection = handlers201(session_factory, None, "CS-LOG")
    frame = ["Uploading", "UploadFailure"]
    for n, status in enumerate(frame):
        payload = {"status": status, "requestId": job_id}
        await cp.route_message(json.dumps([2, str(n), "LogStatusNotification", payload]))
    assert [f[0] for f in connection.sent] == [3, 3]
    async with session_factory() as db:
        job = await db.get(DiagnosticsUpload, job_id)
        command = await db.get(RemoteCommand, command_id)
    assert job is not None
    assert command is not None
    assert job.status == "UploadFailure"
    assert (command.status, command.progress) == (RemoteCommandStatus.FAILED, "UploadFailure")
    assert "UploadFailure" in str((command.detail or {})["reason"])


async def test_a_notification_for_no_job_is_answered_and_changes_nothing(
    session_factory: SessionFactory,
) -> None:
    await make_station(session_factory, station_id="CS-IDLE")
    cp, connection = handlers201(session_factory, None, "CS-IDLE")
    await cp.route_message(
        '[2,"x","FirmwareStatusNotification",{"status":"Installed","requestId":404}]'
    )
    await cp.route_message('[2,"y","LogStatusNotification",{"status":"Idle"}]')
    assert [f[:2] for f in connection.sent] == [[3, "x"], [3, "y"]]
