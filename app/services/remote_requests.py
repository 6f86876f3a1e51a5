"""The synchronous half of a remote operation: check, record the command, audit the request."""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.engine import SessionFactory
from app.db.models import (
    ChargingStation,
    DiagnosticsUpload,
    Evse,
    FirmwareUpdate,
    Location,
    RemoteCommand,
)
from app.domain.enums import OcppVersion
from app.domain.errors import InvalidInput, NotFound, StationNotConnected
from app.services import audit
from app.services.alerts import OperatorScope
from app.services.commands import CommandKind, RemoteCommandStatus
from app.services.ports import StationCommander

ACTIONS = {
    CommandKind.RESET: "station.reset",
    CommandKind.UNLOCK_CONNECTOR: "evse.unlock_connector",
    CommandKind.CHANGE_AVAILABILITY: "station.change_availability",
    CommandKind.TRIGGER_MESSAGE: "station.trigger_message",
    CommandKind.GET_CONFIGURATION: "station.get_configuration",
    CommandKind.CHANGE_CONFIGURATION: "station.change_configuration",
    CommandKind.CLEAR_CACHE: "station.clear_cache",
    CommandKind.UPDATE_FIRMWARE: "station.update_firmware",
    CommandKind.UPLOAD_DIAGNOSTICS: "station.upload_diagnostics",
}
TRIGGERABLE = frozenset(
    {
        "BootNotification",
        "Heartbeat",
        "StatusNotification",
        "MeterValues",
        "FirmwareStatusNotification",
        "LogStatusNotification",  # 1.6: DiagnosticsStatusNotification
        "TransactionEvent",  # 2.0.1 only
    }
)
# The station's own credentials change only through rotateStationPassword, which keeps the
# backend's stored password in step; a plain write would lock the station out.
PASSWORD_KEYS = frozenset({"authorizationkey", "securityctrlr.basicauthpassword"})
URL_SCHEMES = frozenset({"http", "https", "ftp", "ftps", "sftp"})
MAX_KEYS = 100
MAX_KEY_LENGTH = 120
MAX_VALUE = {OcppVersion.V16: 500, OcppVersion.V201: 1000}
MAX_LOCATION = 512


@dataclass(frozen=True, slots=True)
class OperationRequest:
    """What an operator asks: `station_id`, or `evse_key` (an EVSE's row id) for operations on
    one EVSE (its station is the target). `params` are the kind's own values."""

    kind: CommandKind
    station_id: str | None = None
    evse_key: int | None = None
    params: dict[str, Any] = field(default_factory=dict)


async def _target(
    db: AsyncSession, scope: OperatorScope, request: OperationRequest
) -> tuple[ChargingStation, Evse | None, int | None]:
    """The station (and EVSE) in the caller's network, and its organisation; else NotFound."""
    evse: Evse | None = None
    station_id = request.station_id
    if request.evse_key is not None:
        evse = await db.get(Evse, request.evse_key)
        if evse is None or (station_id is not None and evse.station_id != station_id):
            raise NotFound("Evse", request.evse_key)
        station_id = evse.station_id
    station = await db.get(ChargingStation, station_id) if station_id else None
    if station is None:
        raise NotFound("ChargingStation", station_id or "")
    location = await db.get(Location, station.location_id) if station.location_id else None
    operator_id = location.operator_id if location is not None else None
    if scope.operator_id is not None and operator_id != scope.operator_id:
        # Another organisation's station is "not found", exactly like a missing one.
        if evse is not None:
            raise NotFound("Evse", request.evse_key or 0)
        raise NotFound("ChargingStation", station.id)
    return station, evse, operator_id


def _location(value: Any) -> str:
    url = str(value or "")
    parts = urlsplit(url)
    if len(url) > MAX_LOCATION or parts.scheme.lower() not in URL_SCHEMES or not parts.netloc:
        raise InvalidInput(
            f"location {url[:80]!r}: expected an absolute URL ({', '.join(sorted(URL_SCHEMES))})"
            f" of at most {MAX_LOCATION} characters"
        )
    return url


def _params(
    kind: CommandKind, params: dict[str, Any], version: OcppVersion | None, now: datetime
) -> dict[str, Any]:
    """The kind's values, checked; what the command stores (and the audit shows)."""
    version = version or OcppVersion.V16
    match kind:
        case CommandKind.RESET:
            return {"hard": bool(params.get("hard", False))}
        case CommandKind.CHANGE_AVAILABILITY:
            return {"operative": bool(params["operative"])}
        case CommandKind.TRIGGER_MESSAGE:
            message = str(params.get("message", ""))
            if message not in TRIGGERABLE or (
                version == OcppVersion.V16 and message == "TransactionEvent"
            ):
                raise InvalidInput(f"message {message!r} cannot be triggered on OCPP {version}")
            return {"message": message}
        case CommandKind.GET_CONFIGURATION:
            keys = [str(k) for k in params.get("keys") or []]
            if len(keys) > MAX_KEYS or any(not 0 < len(k) <= MAX_KEY_LENGTH for k in keys):
                raise InvalidInput(
                    f"keys: expected at most {MAX_KEYS}, each 1 to {MAX_KEY_LENGTH} characters"
                )
            if version == OcppVersion.V201:
                if not keys:
                    raise InvalidInput("keys is empty: OCPP 2.0.1 reads named variables only")
                _check_variables(keys)
            return {"keys": keys}
        case CommandKind.CHANGE_CONFIGURATION:
            key, value = str(params["key"]), str(params["value"])
            if key.lower() in PASSWORD_KEYS:
                raise InvalidInput(
                    f"key {key!r} is the station's password: use rotateStationPassword"
                )
            if not 0 < len(key) <= MAX_KEY_LENGTH or len(value) > MAX_VALUE[version]:
                raise InvalidInput(
                    f"key {key[:60]!r} / value of {len(value)} characters: expected a key of 1 to"
                    f" {MAX_KEY_LENGTH} and a value of at most {MAX_VALUE[version]} characters"
                )
            if version == OcppVersion.V201:
                _check_variables([key])
            return {"key": key, "value": value}
        case CommandKind.UPDATE_FIRMWARE:
            retrieve_at = params.get("retrieve_at") or now
            if retrieve_at.tzinfo is None:
                raise InvalidInput("retrieveAt has no time zone: expected an offset, e.g. Z")
            return {
                "location": _location(params.get("location")),
                "retrieve_at": retrieve_at.astimezone(UTC).isoformat(),
            }
        case CommandKind.UPLOAD_DIAGNOSTICS:
            return {"location": _location(params.get("location"))}
    return {}


def _check_variables(keys: list[str]) -> None:
    for key in keys:
        component, dot, variable = key.partition(".")
        if not (dot and component and variable) or "." in variable:
            raise InvalidInput(
                f"key {key!r}: OCPP 2.0.1 expects Component.Variable, e.g. "
                "OCPPCommCtrlr.HeartbeatInterval"
            )


async def request_operation(
    *,
    session_factory: SessionFactory,
    commander: StationCommander,
    scope: OperatorScope,
    actor: str,
    request: OperationRequest,
    now: datetime | None = None,
) -> RemoteCommand:
    """A PENDING command for `request`, audited as REQUESTED, in one transaction.

    Raises NotFound (no such station/EVSE in the caller's network), InvalidInput, or
    StationNotConnected (audited as such: the operator tried). Nothing is sent here:
    `remote_operations.run_operation` sends it.
    """
    at = now or datetime.now(UTC)
    async with session_factory() as db:
        station, evse, operator_id = await _target(db, scope, request)
        if request.kind == CommandKind.UNLOCK_CONNECTOR and evse is None:
            raise InvalidInput("unlockConnector needs an EVSE")
        values = _params(request.kind, request.params, station.ocpp_version, at)
        if evse is not None:
            values["ocpp_evse_id"] = evse.ocpp_evse_id
        action = ACTIONS[request.kind]
        target = f"evse:{evse.uid}" if evse is not None else f"station:{station.id}"
        if not commander.is_connected(station.id):
            await audit.record(
                db=db, actor=actor, operator_id=operator_id, action=action, target=target,
                result="STATION_NOT_CONNECTED", detail=values,
            )  # fmt: skip
            await db.commit()
            raise StationNotConnected(station.id)
        command = RemoteCommand(
            id=str(uuid.uuid4()),
            kind=request.kind,
            status=RemoteCommandStatus.PENDING,
            station_id=station.id,
            evse_id=evse.id if evse is not None else None,
            created_at=at,
        )
        db.add(command)
        await db.flush()
        request_id = await _job(db, request.kind, command, station, values, actor)
        if request_id is not None:
            values["request_id"] = request_id
        await audit.record(
            db=db, actor=actor, operator_id=operator_id, action=action, target=target,
            result="REQUESTED", detail={"command_id": command.id, **_public(values)},
        )  # fmt: skip
        command.detail = {
            **values, "actor": actor, "operator_id": operator_id, "action": action,
            "target": target,
        }  # fmt: skip
        await db.commit()
        await db.refresh(command)
        return command


def _public(values: dict[str, Any]) -> dict[str, Any]:
    """Audit detail: never a configuration value that may be a secret of the station's."""
    return {k: v for k, v in values.items() if k != "value"}


async def _job(
    db: AsyncSession,
    kind: CommandKind,
    command: RemoteCommand,
    station: ChargingStation,
    values: dict[str, Any],
    actor: str,
) -> int | None:
    """The firmware or diagnostics job; its id is the 2.0.1 requestId."""
    job: FirmwareUpdate | DiagnosticsUpload
    if kind == CommandKind.UPDATE_FIRMWARE:
        job = FirmwareUpdate(
            station_id=station.id, command_id=command.id, location=values["location"],
            retrieve_at=datetime.fromisoformat(values["retrieve_at"]),
            previous_version=station.firmware_version, requested_by=actor[:100],
        )  # fmt: skip
    elif kind == CommandKind.UPLOAD_DIAGNOSTICS:
        job = DiagnosticsUpload(
            station_id=station.id, command_id=command.id, location=values["location"],
            requested_by=actor[:100],
        )  # fmt: skip
    else:
        return None
    db.add(job)
    await db.flush()
    return job.id


async def get_network_command(
    *, session_factory: SessionFactory, scope: OperatorScope, command_id: str
) -> RemoteCommand:
    """A command on a station of the caller's network; NotFound otherwise (no existence leak)."""
    async with session_factory() as db:
        command = await db.get(RemoteCommand, command_id[:36])
        if command is None:
            raise NotFound("RemoteCommand", command_id)
        station = await db.get(ChargingStation, command.station_id)
        location = (
            await db.get(Location, station.location_id) if station and station.location_id else None
        )
        operator_id = location.operator_id if location is not None else None
    if scope.operator_id is not None and operator_id != scope.operator_id:
        raise NotFound("RemoteCommand", command_id)
    return command
