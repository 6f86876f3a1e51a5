"""Remote-operation requests: checked before anything is recorded, scoped to the caller's
organisation, and every request (or refusal for an unreachable station) audited."""

from datetime import datetime
from typing import Any

import pytest
from sqlmodel import col, select, update

from app.db.engine import SessionFactory
from app.db.models import AuditRecord, FirmwareUpdate, Location, RemoteCommand
from app.domain.commands import CommandOutcome, StationCommand
from app.domain.enums import OcppVersion
from app.domain.errors import InvalidInput, NotFound, StationNotConnected
from app.services.alerts import OperatorScope
from app.services.commands import CommandKind
from app.services.remote_requests import OperationRequest, request_operation
from tests.access_builders import make_operator
from tests.factories import make_location, make_station


class Commander:
    """A StationCommander whose stations are connected or not; nothing is sent here."""

    def __init__(self, connected: bool) -> None:
        self.connected = connected

    def is_connected(self, station_id: str) -> bool:
        return self.connected

    async def send(
        self, station_id: str, command: StationCommand, *, timeout_s: float | None = None
    ) -> CommandOutcome:
        raise AssertionError("request_operation must not send")


async def _station(session_factory: SessionFactory, version: OcppVersion) -> tuple[str, int]:
    operator = await make_operator(session_factory)
    location = await make_location(session_factory)
    async with session_factory() as db:
        await db.exec(
            update(Location).where(col(Location.id) == location.id).values(operator_id=operator.id)
        )
        await db.commit()
    station = await make_station(session_factory, location=location)
    async with session_factory() as db:
        station.ocpp_version = version
        db.add(station)
        await db.commit()
    assert operator.id is not None
    return station.id, operator.id


async def _request(
    session_factory: SessionFactory, station_id: str, operator_id: int, kind: CommandKind,
    connected: bool = True, **params: Any,
) -> RemoteCommand:  # fmt: skip
    return await request_operation(
        session_factory=session_factory,
        commander=Commander(connected),
        scope=OperatorScope(operator_id),
        actor="operator-user:9",
        request=OperationRequest(kind, station_id=station_id, params=params),
    )


@pytest.mark.parametrize(
    ("version", "kind", "params", "bad"),
    [
        (OcppVersion.V16, CommandKind.UPDATE_FIRMWARE, {"location": "file:///etc/passwd"}, "URL"),
        (OcppVersion.V16, CommandKind.UPLOAD_DIAGNOSTICS, {"location": "https://"}, "URL"),
        (OcppVersion.V16, CommandKind.UPDATE_FIRMWARE,
         {"location": "https://f/x.bin", "retrieve_at": datetime(2026, 1, 1)}, "time zone"),
        (OcppVersion.V16, CommandKind.CHANGE_CONFIGURATION,
         {"key": "AuthorizationKey", "value": "x"}, "rotateStationPassword"),
        (OcppVersion.V201, CommandKind.CHANGE_CONFIGURATION,
         {"key": "SecurityCtrlr.BasicAuthPassword", "value": "x"}, "rotateStationPassword"),
        (OcppVersion.V201, CommandKind.CHANGE_CONFIGURATION,
         {"key": "HeartbeatInterval", "value": "5"}, "Component.Variable"),
        (OcppVersion.V201, CommandKind.GET_CONFIGURATION, {"keys": []}, "keys is empty"),
        (OcppVersion.V16, CommandKind.TRIGGER_MESSAGE, {"message": "TransactionEvent"}, "1.6"),
        (OcppVersion.V16, CommandKind.TRIGGER_MESSAGE, {"message": "Reboot"}, "Reboot"),
    ],
)  # fmt: skip
async def test_bad_input_is_refused_naming_the_value_and_nothing_is_recorded(
    session_factory: SessionFactory,
    version: OcppVersion,
    kind: CommandKind,
    params: dict[str, Any],
    bad: str,
) -> None:
    station_id, operator_id = await _station(session_factory, version)
    with pytest.raises(InvalidInput, match=bad):
        await _request(session_factory, station_id, operator_id, kind, **params)
    async with session_factory() as db:
        assert (await db.exec(select(RemoteCommand))).all() == []
        assert (await db.exec(select(AuditRecord))).all() == []


async def test_another_organisations_station_is_not_found(session_factory: SessionFactory) -> None:
    station_id, _ = await _station(session_factory, OcppVersion.V16)
    other = await make_operator(session_factory)
    assert other.id is not None
    with pytest.raises(NotFound):
        await _request(session_factory, station_id, other.id, CommandKind.CLEAR_CACHE)
    async with session_factory() as db:
        assert (await db.exec(select(RemoteCommand))).all() == []


async def test_a_firmware_request_records_command_job_and_audit_together(
    session_factory: SessionFactory,
) -> None:
    station_id, operator_id = await _station(session_factory, OcppVersion.V201)
    command = await _request(
        session_factory, station_id, operator_id, CommandKind.UPDATE_FIRMWARE,
        location="https://fw.example/image-3.1.bin",
    )  # fmt: skip
    async with session_factory() as db:
        [job] = (await db.exec(select(FirmwareUpdate))).all()
        [record] = (await db.exec(select(AuditRecord))).all()
    assert job.command_id == command.id
    assert (command.detail or {})["request_id"] == job.id  # the 2.0.1 requestId
    assert (record.action, record.result, record.actor) == (
        "station.update_firmware", "REQUESTED", "operator-user:9",
    )  # fmt: skip
    assert record.operator_id == operator_id
    assert (record.detail or {})["command_id"] == command.id


async def test_an_unreachable_station_is_audited_and_nothing_is_queued(
    session_factory: SessionFactory,
) -> None:
    station_id, operator_id = await _station(session_factory, OcppVersion.V16)
    with pytest.raises(StationNotConnected):
        await _request(session_factory, station_id, operator_id, CommandKind.RESET, connected=False)
    async with session_factory() as db:
        assert (await db.exec(select(RemoteCommand))).all() == []
        [record] = (await db.exec(select(AuditRecord))).all()
    assert (record.action, record.result) == ("station.reset", "STATION_NOT_CONNECTED")
