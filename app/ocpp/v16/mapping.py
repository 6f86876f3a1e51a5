"""OCPP 1.6 ⇄ domain data. `connectorId` and `idTag` exist only here: a 1.6 connector is an EVSE."""

from datetime import datetime
from typing import Any

from ocpp.v16 import call
from ocpp.v16.enums import AvailabilityType, ResetType

from app.domain.commands import (
    CancelReservation,
    ChangeAvailability,
    ChangeConfiguration,
    ClearCache,
    CommandOutcome,
    CommandStatus,
    GetConfiguration,
    RequestStart,
    RequestStop,
    ReserveNow,
    Reset,
    SetChargingLimit,
    StationCommand,
    TriggerMessage,
    UnlockConnector,
    UpdateFirmware,
    UploadDiagnostics,
)
from app.domain.enums import AuthorizationStatus, EvseStatus, RegistrationStatus
from app.domain.errors import InvalidInput
from app.domain.metering import MeterReading
from app.ocpp import common
from app.services.stations import BootInfo
from app.services.transactions import Authorization

_STATUS = {
    "Available": EvseStatus.AVAILABLE,
    "Preparing": EvseStatus.CHARGING,
    "Charging": EvseStatus.CHARGING,
    "SuspendedEV": EvseStatus.CHARGING,
    "SuspendedEVSE": EvseStatus.CHARGING,
    "Finishing": EvseStatus.CHARGING,
    "Reserved": EvseStatus.RESERVED,
    "Unavailable": EvseStatus.INOPERATIVE,
    "Faulted": EvseStatus.OUTOFORDER,
}

_REGISTRATION = {
    RegistrationStatus.ACCEPTED: "Accepted",
    RegistrationStatus.PENDING: "Pending",
    RegistrationStatus.REJECTED: "Rejected",
}

_ANSWERS = {
    "Accepted": CommandStatus.ACCEPTED,
    "Rejected": CommandStatus.REJECTED,
    # ReserveNow refusals; detail["status"] keeps which one
    "Occupied": CommandStatus.REJECTED,
    "Faulted": CommandStatus.REJECTED,
    "Unavailable": CommandStatus.REJECTED,
    "NotImplemented": CommandStatus.NOT_SUPPORTED,
    "NotSupported": CommandStatus.NOT_SUPPORTED,
    # remote operations; detail["status"] keeps the station's word (e.g. RebootRequired)
    "Unlocked": CommandStatus.ACCEPTED,
    "UnlockFailed": CommandStatus.REJECTED,
    "RebootRequired": CommandStatus.ACCEPTED,
    "Scheduled": CommandStatus.ACCEPTED,
}

# The domain names triggerable messages as 2.0.1 does; 1.6 calls the log upload "diagnostics".
_TRIGGER = {"LogStatusNotification": "DiagnosticsStatusNotification"}
_TRIGGERABLE = frozenset(
    {
        "BootNotification",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StatusNotification",
    }
)
MAX_KEY = 50  # CiString50Type
MAX_VALUE = 500  # CiString500Type


def boot_info(payload: dict[str, Any]) -> BootInfo:
    return BootInfo(
        vendor=payload["charge_point_vendor"],
        model=payload["charge_point_model"],
        serial_number=payload.get("charge_point_serial_number")
        or payload.get("charge_box_serial_number"),
        firmware_version=payload.get("firmware_version"),
    )


def registration_status(status: RegistrationStatus) -> str:
    return _REGISTRATION[status]


def evse_status(status: str) -> EvseStatus:
    return _STATUS.get(status, EvseStatus.UNKNOWN)


def evse_number(connector_id: int) -> int | None:
    """1.6 connector n is chargenet EVSE n; connector 0 is the whole station (None)."""
    return connector_id if connector_id > 0 else None


def error_code(code: str) -> str | None:
    return None if code == "NoError" else code


def id_tag_info(authorization: Authorization) -> dict[str, Any]:
    status = authorization.status
    info: dict[str, Any] = {
        "status": "Invalid" if status == AuthorizationStatus.UNKNOWN else status.value.capitalize()
    }
    if authorization.expires_at is not None:
        info["expiry_date"] = authorization.expires_at.isoformat()
    return info


def readings(meter_value: list[dict[str, Any]] | None) -> tuple[MeterReading, ...]:
    return common.readings(meter_value, version_unit_key="unit")


def timestamp(value: str) -> datetime:
    return common.parse_timestamp(value)


def command_payload(command: StationCommand) -> Any:
    """The 1.6 CALL payload for a domain command."""
    match command:
        case RequestStart(ocpp_evse_id=evse, id_token=token):
            return call.RemoteStartTransaction(id_tag=token, connector_id=evse)
        case RequestStop(transaction_id=transaction_id):
            if not transaction_id.isdigit():
                raise InvalidInput(
                    f"transaction id {transaction_id!r}: OCPP 1.6 expects an integer"
                )
            return call.RemoteStopTransaction(transaction_id=int(transaction_id))
        case Reset(hard=hard):
            return call.Reset(type=ResetType.hard if hard else ResetType.soft)
        case TriggerMessage(message=message, ocpp_evse_id=evse):
            requested = _TRIGGER.get(message, message)
            if requested not in _TRIGGERABLE:
                raise InvalidInput(
                    f"message {message!r} cannot be triggered in OCPP 1.6: expected one of "
                    + ", ".join(sorted(_TRIGGERABLE))
                )
            return call.TriggerMessage(requested_message=requested, connector_id=evse)
        case ReserveNow(ocpp_evse_id=evse, id_token=token, reservation_id=rid, expires_at=at):
            return call.ReserveNow(
                connector_id=evse, expiry_date=at.isoformat(), id_tag=token, reservation_id=rid
            )
        case CancelReservation(reservation_id=rid):
            return call.CancelReservation(reservation_id=rid)
        case SetChargingLimit():
            return call.SetChargingProfile(
                connector_id=command.ocpp_evse_id, cs_charging_profiles=_profile(command)
            )
        case _:
            return _operation_payload(command)
    raise InvalidInput(f"command {command!r} has no OCPP 1.6 equivalent")


def _operation_payload(command: StationCommand) -> Any:
    """Remote operations (operator API) as 1.6 CALLs."""
    match command:
        case UnlockConnector(ocpp_evse_id=evse):
            return call.UnlockConnector(connector_id=evse)
        case ChangeAvailability(operative=operative, ocpp_evse_id=evse):
            kind = AvailabilityType.operative if operative else AvailabilityType.inoperative
            return call.ChangeAvailability(connector_id=evse or 0, type=kind)
        case GetConfiguration(keys=keys):
            for key in keys:
                _check_length("key", key, MAX_KEY)
            return call.GetConfiguration(key=list(keys) or None)
        case ChangeConfiguration(key=key, value=value):
            _check_length("key", key, MAX_KEY)
            _check_length("value", value, MAX_VALUE)
            return call.ChangeConfiguration(key=key, value=value)
        case ClearCache():
            return call.ClearCache()
        case UpdateFirmware(location=location, retrieve_at=at):
            return call.UpdateFirmware(location=location, retrieve_date=at.isoformat())
        case UploadDiagnostics(location=location):
            return call.GetDiagnostics(location=location)
    raise InvalidInput(f"command {command!r} has no OCPP 1.6 equivalent")


def _check_length(name: str, value: str, most: int) -> None:
    if not 0 < len(value) <= most:
        raise InvalidInput(
            f"{name} {value[:60]!r} has {len(value)} characters: OCPP 1.6 allows 1 to {most}"
        )


def _profile(command: SetChargingLimit) -> dict[str, Any]:
    """A 1.6 TxProfile, TxDefaultProfile or station max; relative, or absolute from starts_at."""
    profile: dict[str, Any] = {
        "charging_profile_id": command.profile_id,
        "stack_level": command.stack_level,
        "charging_profile_purpose": "ChargePointMaxProfile"
        if command.station_max
        else "TxDefaultProfile"
        if command.transaction_id is None
        else "TxProfile",
        "charging_profile_kind": "Absolute" if command.starts_at else "Relative",
        "charging_schedule": {
            "charging_rate_unit": "A" if command.limit_a is not None else "W",
            "charging_schedule_period": common.schedule_periods(command),
            **({"start_schedule": command.starts_at.isoformat()} if command.starts_at else {}),
        },
    }
    if command.transaction_id is not None:
        if not command.transaction_id.isdigit():
            raise InvalidInput(
                f"transaction id {command.transaction_id!r}: OCPP 1.6 expects an integer"
            )
        profile["transaction_id"] = int(command.transaction_id)
    if command.valid_from is not None:
        profile["valid_from"] = command.valid_from.isoformat()
    if command.valid_to is not None:
        profile["valid_to"] = command.valid_to.isoformat()
    return profile


def command_outcome(result: Any) -> CommandOutcome:
    match type(result).__name__:
        case "GetConfiguration":
            return CommandOutcome(CommandStatus.ACCEPTED, _configuration(result))
        case "UpdateFirmware":  # 1.6 answers with an empty payload: the station took it
            return CommandOutcome(CommandStatus.ACCEPTED, {"status": "Accepted"})
        case "GetDiagnostics":  # no fileName: the station has no diagnostics to upload
            if not result.file_name:
                return CommandOutcome(CommandStatus.REJECTED, {"status": "NoDiagnostics"})
            return CommandOutcome(
                CommandStatus.ACCEPTED, {"status": "Accepted", "file_name": result.file_name}
            )
    status = str(getattr(result, "status", ""))
    return CommandOutcome(_ANSWERS.get(status, CommandStatus.FAILED), {"status": status})


def _configuration(result: Any) -> dict[str, Any]:
    """GetConfiguration.conf as neutral rows: key, value (None when unset), readonly."""
    entries = [
        {
            "key": str(item["key"]),
            "value": None if item.get("value") is None else str(item["value"]),
            "readonly": bool(item.get("readonly", False)),
        }
        for item in result.configuration_key or []
    ]
    return {
        "status": "Accepted",
        "configuration": entries,
        "unknown_keys": result.unknown_key or [],
    }


# -- station credentials: password rotation (OCPP 1.6 security whitepaper, AuthorizationKey) --

AUTHORIZATION_KEY = "AuthorizationKey"
# RebootRequired: the station uses the password after its next reboot; until then the old one
# stays valid (for the grace period), as after any accepted rotation.
_PASSWORD_ANSWERS = {
    "Accepted": CommandStatus.ACCEPTED,
    "RebootRequired": CommandStatus.ACCEPTED,
    "Rejected": CommandStatus.REJECTED,
    "NotSupported": CommandStatus.NOT_SUPPORTED,
}


def password_payload(password: str) -> Any:
    """The new Basic-auth password goes in the write-only AuthorizationKey."""
    return call.ChangeConfiguration(key=AUTHORIZATION_KEY, value=password)


def password_outcome(result: Any) -> CommandOutcome:
    status = str(getattr(result, "status", ""))
    return CommandOutcome(_PASSWORD_ANSWERS.get(status, CommandStatus.FAILED), {"status": status})
