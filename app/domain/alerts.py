"""Alert vocabulary: severities, lifecycle states, codes of derived faults, charger events."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class AlertSeverity(StrEnum):
    """How urgently an operator must act (ordered: CRITICAL first)."""

    CRITICAL = "CRITICAL"
    MAJOR = "MAJOR"
    MINOR = "MINOR"
    WARNING = "WARNING"
    INFO = "INFO"


class AlertState(StrEnum):
    """open → acknowledged (someone is on it) → resolved (by hand or when the condition clears)."""

    OPEN = "OPEN"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    RESOLVED = "RESOLVED"


class AlertSource(StrEnum):
    """Where an alert came from; auto-resolution only clears alerts of the same source."""

    STATUS = "STATUS"  # StatusNotification: Faulted / a 1.6 error code
    DEVICE_EVENT = "DEVICE_EVENT"  # 2.0.1 NotifyEvent
    MONITOR = "MONITOR"  # derived by the health monitor


class AlertCode:
    """Codes of the alerts chargenet derives itself (charger codes are kept as sent)."""

    FAULTED = "FAULTED"
    STATION_OFFLINE = "STATION_OFFLINE"
    CONNECTION_FLAPPING = "CONNECTION_FLAPPING"
    BOOT_LOOP = "BOOT_LOOP"
    NO_METER_VALUES = "NO_METER_VALUES"
    REPEATED_FAILED_STARTS = "REPEATED_FAILED_STARTS"
    METER_REGISTER_BACKWARDS = "METER_REGISTER_BACKWARDS"
    TRANSACTION_NOT_CLOSED = "TRANSACTION_NOT_CLOSED"


# 1.6 ChargePointErrorCode values that stop charging; the rest are warnings a port survives.
BLOCKING_ERROR_CODES = frozenset(
    {
        "ConnectorLockFailure",
        "GroundFailure",
        "HighTemperature",
        "InternalError",
        "OverCurrentFailure",
        "OverVoltage",
        "PowerMeterFailure",
        "PowerSwitchFailure",
        "ReaderFailure",
        "ResetFailure",
        "UnderVoltage",
    }
)


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """One OCPP 2.0.1 NotifyEvent entry, version-neutral.

    `cleared` means the monitored condition is over: the matching alert resolves itself.
    """

    code: str
    ocpp_evse_id: int | None
    timestamp: datetime
    trigger: str
    actual_value: str
    cleared: bool
    severity: AlertSeverity
    tech_code: str | None = None
    tech_info: str | None = None
