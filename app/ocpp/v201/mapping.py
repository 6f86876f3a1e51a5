"""OCPP 2.0.1 ⇄ domain data."""

from datetime import datetime
from typing import Any

from ocpp.v201 import call
from ocpp.v201.datatypes import EVSEType, IdTokenType
from ocpp.v201.enums import IdTokenEnumType, OperationalStatusEnumType, ResetEnumType

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
from app.domain.enums import EvseStatus, RegistrationStatus
from app.domain.errors import InvalidInput
from app.domain.metering import MeterReading
from app.ocpp import common
from app.services.stations import BootInfo
from app.services.transactions import Authorization, TransactionEventData, TransactionEventType

_STATUS = {
    "Available": EvseStatus.AVAILABLE,
    "Occupied": EvseStatus.CHARGING,
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
    "Scheduled": CommandStatus.ACCEPTED,
    "Rejected": CommandStatus.REJECTED,
    # ReserveNow refusals; detail["status"] keeps which one
    "Occupied": CommandStatus.REJECTED,
    "Faulted": CommandStatus.REJECTED,
    "Unavailable": CommandStatus.REJECTED,
    "NotImplemented": CommandStatus.NOT_SUPPORTED,
    # remote operations; detail["status"] keeps the station's word (e.g. RebootRequired)
    "Unlocked": CommandStatus.ACCEPTED,
    "UnlockFailed": CommandStatus.REJECTED,
    "OngoingAuthorizedTransaction": CommandStatus.REJECTED,
    "UnknownConnector": CommandStatus.REJECTED,
    "RebootRequired": CommandStatus.ACCEPTED,
    "AcceptedCanceled": CommandStatus.ACCEPTED,
    "UnknownComponent": CommandStatus.REJECTED,
    "UnknownVariable": CommandStatus.REJECTED,
    "NotSupportedAttributeType": CommandStatus.NOT_SUPPORTED,
    "InvalidCertificate": CommandStatus.REJECTED,
    "RevokedCertificate": CommandStatus.REJECTED,
}

MAX_ATTRIBUTE_VALUE = 1000  # SetVariableDataType.attributeValue
MAX_NAME = 50  # ComponentType.name, VariableType.name


def boot_info(charging_station: dict[str, Any]) -> BootInfo:
    return BootInfo(
        vendor=charging_station["vendor_name"],
        model=charging_station["model"],
        serial_number=charging_station.get("serial_number"),
        firmware_version=charging_station.get("firmware_version"),
    )


def registration_status(status: RegistrationStatus) -> str:
    return _REGISTRATION[status]


def evse_status(connector_status: str) -> EvseStatus:
    return _STATUS.get(connector_status, EvseStatus.UNKNOWN)


def token_uid(id_token: dict[str, Any] | None) -> str | None:
    """The token's identifier; None when the station needs no authorisation for it."""
    if not id_token or id_token.get("type") == "NoAuthorization" or not id_token.get("id_token"):
        return None
    return str(id_token["id_token"])


def id_token_info(authorization: Authorization) -> dict[str, Any]:
    info: dict[str, Any] = {"status": authorization.status.value.capitalize()}
    if authorization.expires_at is not None:
        info["cache_expiry_date_time"] = authorization.expires_at.isoformat()
    return info


def readings(meter_value: list[dict[str, Any]] | None) -> tuple[MeterReading, ...]:
    return common.readings(meter_value, version_unit_key="unit_of_measure")


def transaction_event(payload: dict[str, Any]) -> TransactionEventData:
    info = payload["transaction_info"]
    evse = payload.get("evse") or {}
    return TransactionEventData(
        event_type=TransactionEventType(payload["event_type"]),
        transaction_id=str(info["transaction_id"]),
        seq_no=int(payload["seq_no"]),
        timestamp=common.parse_timestamp(payload["timestamp"]),
        ocpp_evse_id=evse.get("id") or None,
        ocpp_connector_id=evse.get("connector_id"),
        id_token=token_uid(payload.get("id_token")),
        stopped_reason=info.get("stopped_reason"),
        readings=readings(payload.get("meter_value")),
        reservation_id=payload.get("reservation_id"),
        remote_start_id=info.get("remote_start_id"),
    )


def command_payload(command: StationCommand) -> Any:
    """The 2.0.1 CALL payload for a domain command."""
    match command:
        case RequestStart(ocpp_evse_id=evse, id_token=token, remote_start_id=remote_start_id):
            return call.RequestStartTransaction(
                id_token=IdTokenType(id_token=token, type=IdTokenEnumType.central),
                remote_start_id=remote_start_id,
                evse_id=evse,
            )
        case RequestStop(transaction_id=transaction_id):
            return call.RequestStopTransaction(transaction_id=transaction_id)
        case Reset(hard=hard):
            return call.Reset(type=ResetEnumType.immediate if hard else ResetEnumType.on_idle)
        case TriggerMessage(message=message, ocpp_evse_id=evse):
            return call.TriggerMessage(
                requested_message=message, evse=EVSEType(id=evse) if evse else None
            )
        case ReserveNow(ocpp_evse_id=evse, id_token=token, reservation_id=rid, expires_at=at):
            return call.ReserveNow(
                id=rid,
                expiry_date_time=at.isoformat(),
                id_token=IdTokenType(id_token=token, type=IdTokenEnumType.central),
                evse_id=evse,
            )
        case CancelReservation(reservation_id=rid):
            return call.CancelReservation(reservation_id=rid)
        case SetChargingLimit():
            return call.SetChargingProfile(
                evse_id=command.ocpp_evse_id, charging_profile=_profile(command)
            )
        case _:
            return _operation_payload(command)
    raise InvalidInput(f"command {command!r} has no OCPP 2.0.1 equivalent")


def _operation_payload(command: StationCommand) -> Any:
    """Remote operations (operator API) as 2.0.1 CALLs."""
    match command:
        case UnlockConnector(ocpp_evse_id=evse, ocpp_connector_id=connector):
            return call.UnlockConnector(evse_id=evse, connector_id=connector)
        case ChangeAvailability(operative=operative, ocpp_evse_id=evse):
            status = (
                OperationalStatusEnumType.operative
                if operative
                else OperationalStatusEnumType.inoperative
            )
            return call.ChangeAvailability(
                operational_status=status, evse=EVSEType(id=evse) if evse else None
            )
        case GetConfiguration(keys=keys):
            if not keys:
                raise InvalidInput(
                    "keys is empty: OCPP 2.0.1 GetVariables needs at least one Component.Variable"
                )
            return call.GetVariables(get_variable_data=[_variable(key) for key in keys])
        case ChangeConfiguration(key=key, value=value):
            if len(value) > MAX_ATTRIBUTE_VALUE:
                raise InvalidInput(
                    f"value has {len(value)} characters: OCPP 2.0.1 allows {MAX_ATTRIBUTE_VALUE}"
                )
            return call.SetVariables(
                set_variable_data=[{"attribute_value": value, **_variable(key)}]
            )
        case ClearCache():
            return call.ClearCache()
        case UpdateFirmware(location=location, retrieve_at=at, request_id=request_id):
            return call.UpdateFirmware(
                request_id=request_id,
                firmware={"location": location, "retrieve_date_time": at.isoformat()},
            )
        case UploadDiagnostics(location=location, request_id=request_id):
            return call.GetLog(
                log={"remote_location": location},
                log_type="DiagnosticsLog",
                request_id=request_id,
            )
    raise InvalidInput(f"command {command!r} has no OCPP 2.0.1 equivalent")


def _variable(key: str) -> dict[str, Any]:
    """`Component.Variable` as the component and variable of Get/SetVariables."""
    component, dot, variable = key.partition(".")
    if not dot or not component or not variable or "." in variable:
        raise InvalidInput(
            f"key {key!r}: OCPP 2.0.1 expects Component.Variable,"
            " e.g. OCPPCommCtrlr.HeartbeatInterval"
        )
    if len(component) > MAX_NAME or len(variable) > MAX_NAME:
        raise InvalidInput(f"key {key!r}: component and variable names have at most {MAX_NAME}")
    return {"component": {"name": component}, "variable": {"name": variable}}


def _key(item: dict[str, Any]) -> str:
    return f"{item['component']['name']}.{item['variable']['name']}"


def _profile(command: SetChargingLimit) -> Any:
    """A 2.0.1 TxProfile, TxDefaultProfile or station max; relative, or absolute from starts_at."""
    profile: dict[str, Any] = {
        "id": command.profile_id,
        "stack_level": command.stack_level,
        "charging_profile_purpose": "ChargingStationMaxProfile"
        if command.station_max
        else "TxDefaultProfile"
        if command.transaction_id is None
        else "TxProfile",
        "charging_profile_kind": "Absolute" if command.starts_at else "Relative",
        "charging_schedule": [
            {
                "id": command.profile_id,
                "charging_rate_unit": "A" if command.limit_a is not None else "W",
                "charging_schedule_period": common.schedule_periods(command),
                **({"start_schedule": command.starts_at.isoformat()} if command.starts_at else {}),
            }
        ],
    }
    if command.transaction_id is not None:
        profile["transaction_id"] = command.transaction_id
    if command.valid_from is not None:
        profile["valid_from"] = command.valid_from.isoformat()
    if command.valid_to is not None:
        profile["valid_to"] = command.valid_to.isoformat()
    return profile


def command_outcome(result: Any) -> CommandOutcome:
    match type(result).__name__:
        case "GetVariables":
            return CommandOutcome(CommandStatus.ACCEPTED, _variables(result.get_variable_result))
        case "SetVariables":  # one variable per SetVariables: its status is the answer
            [item] = result.set_variable_result
            status = str(item["attribute_status"])
            return CommandOutcome(
                _ANSWERS.get(status, CommandStatus.FAILED), {"status": status, "key": _key(item)}
            )
        case "GetLog":
            status = str(result.status)
            return CommandOutcome(
                _ANSWERS.get(status, CommandStatus.FAILED),
                {"status": status, "file_name": result.filename},
            )
    status = str(getattr(result, "status", ""))
    detail: dict[str, Any] = {"status": status}
    if getattr(result, "transaction_id", None):
        detail["transaction_id"] = result.transaction_id
    return CommandOutcome(_ANSWERS.get(status, CommandStatus.FAILED), detail)


def _variables(results: list[dict[str, Any]]) -> dict[str, Any]:
    """GetVariablesResult as neutral rows; variables the station refused are `unknown_keys`."""
    known = [
        {"key": _key(item), "value": item.get("attribute_value"), "readonly": None}
        for item in results
        if item.get("attribute_status") == "Accepted"
    ]
    unknown = [_key(item) for item in results if item.get("attribute_status") != "Accepted"]
    return {"status": "Accepted", "configuration": known, "unknown_keys": unknown}


# -- station credentials: password rotation (2.0.1 A01, SecurityCtrlr.BasicAuthPassword) -------

SECURITY_CTRLR = "SecurityCtrlr"
BASIC_AUTH_PASSWORD = "BasicAuthPassword"  # noqa: S105  (a variable name)
# RebootRequired: the station uses the password after its next reboot; until then the old one
# stays valid (for the grace period), as after any accepted rotation.
_PASSWORD_ANSWERS = {
    "Accepted": CommandStatus.ACCEPTED,
    "RebootRequired": CommandStatus.ACCEPTED,
    "Rejected": CommandStatus.REJECTED,
    "UnknownComponent": CommandStatus.NOT_SUPPORTED,
    "UnknownVariable": CommandStatus.NOT_SUPPORTED,
    "NotSupportedAttributeType": CommandStatus.NOT_SUPPORTED,
}


def password_payload(password: str) -> Any:
    """The new Basic-auth password, as the one SetVariables of SecurityCtrlr.BasicAuthPassword."""
    return call.SetVariables(
        set_variable_data=[
            {
                "attribute_value": password,
                "component": {"name": SECURITY_CTRLR},
                "variable": {"name": BASIC_AUTH_PASSWORD},
            }
        ]
    )


def password_outcome(result: Any) -> CommandOutcome:
    """The attributeStatus of the one SetVariableResult."""
    results = getattr(result, "set_variable_result", None) or [{}]
    first = results[0] if isinstance(results[0], dict) else {}
    status = str(first.get("attribute_status", ""))
    return CommandOutcome(_PASSWORD_ANSWERS.get(status, CommandStatus.FAILED), {"status": status})


def charging_needs(charging_needs: dict[str, Any]) -> tuple[int | None, datetime | None]:
    """(energy wanted in Wh, departure) of a NotifyEVChargingNeeds `chargingNeeds`.

    AC and DC parameters both carry `energyAmount` (Wh); `departureTime` is optional.
    """
    energy: float | None = None
    for key in ("ac_charging_parameters", "dc_charging_parameters"):
        parameters = charging_needs.get(key) or {}
        if parameters.get("energy_amount") is not None:
            energy = float(parameters["energy_amount"])
            break
    departure = charging_needs.get("departure_time")
    return (
        round(energy) if energy is not None else None,
        common.parse_timestamp(departure) if departure is not None else None,
    )
