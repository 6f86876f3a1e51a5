"""Version-neutral commands the CSMS sends to a station, and their outcomes.

The OCPP adapter maps each to the 1.6 or 2.0.1 message of the station's protocol.
"""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class CommandStatus(StrEnum):
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    TIMEOUT = "TIMEOUT"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class RequestStart:
    """Start charging on an EVSE for a token.

    1.6 RemoteStartTransaction, 2.0.1 RequestStartTransaction.
    """

    ocpp_evse_id: int
    id_token: str
    remote_start_id: int


@dataclass(frozen=True, slots=True)
class RequestStop:
    """Stop a transaction (1.6 RemoteStopTransaction, 2.0.1 RequestStopTransaction)."""

    transaction_id: str


@dataclass(frozen=True, slots=True)
class Reset:
    hard: bool = False


@dataclass(frozen=True, slots=True)
class TriggerMessage:
    """Ask the station to send a message now, e.g. "StatusNotification" or "MeterValues"."""

    message: str
    ocpp_evse_id: int | None = None


@dataclass(frozen=True, slots=True)
class ReserveNow:
    """Hold an EVSE for a token until `expires_at` (1.6 and 2.0.1 ReserveNow).

    `reservation_id` is the backend's Reservation id; the station answers Accepted, Occupied,
    Faulted, Unavailable or Rejected.
    """

    ocpp_evse_id: int
    id_token: str
    reservation_id: int
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class CancelReservation:
    """Release a reservation (1.6 and 2.0.1 CancelReservation)."""

    reservation_id: int


@dataclass(frozen=True, slots=True)
class SetChargingLimit:
    """Cap what an EVSE may draw (1.6 and 2.0.1 SetChargingProfile).

    With a `transaction_id` it is the session's TxProfile; without one it is the EVSE's
    TxDefaultProfile, the limit a session that starts while the backend is unreachable obeys.
    Give exactly one of `limit_a` (amps per phase, on `number_phases` phases) and `limit_w`.
    Profiles replace each other by id, so one EVSE holds at most one of each kind.
    """

    ocpp_evse_id: int
    limit_a: float | None = None
    limit_w: float | None = None
    transaction_id: str | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    number_phases: int | None = None
    #: A station-wide cap instead (1.6 ChargePointMaxProfile, 2.0.1 ChargingStationMaxProfile):
    #: send it with `ocpp_evse_id` 0; it bounds every other profile of the station.
    station_max: bool = False
    #: An absolute schedule: the limit above holds from `starts_at`, then each
    #: (seconds after `starts_at`, limit in the same unit) in `later_periods`, so a coming
    #: limit change is obeyed even if the backend cannot be reached when it starts.
    starts_at: datetime | None = None
    later_periods: tuple[tuple[int, float], ...] = ()

    @property
    def profile_id(self) -> int:
        """Stable per EVSE and kind: a new limit replaces the old profile on the station."""
        if self.station_max:
            return 3000
        return (2000 if self.transaction_id is None else 1000) + self.ocpp_evse_id

    @property
    def stack_level(self) -> int:
        return 0 if self.transaction_id is None else 1


# -- remote operations (operator API); the domain speaks 2.0.1 names ---------------------------


@dataclass(frozen=True, slots=True)
class UnlockConnector:
    """Release the cable lock of an EVSE's connector (1.6 and 2.0.1 UnlockConnector)."""

    ocpp_evse_id: int
    ocpp_connector_id: int = 1


@dataclass(frozen=True, slots=True)
class ChangeAvailability:
    """Make the whole station (`ocpp_evse_id` None) or one EVSE operative or inoperative.

    The station answers Scheduled when a session delays it: it applies once the session ends.
    """

    operative: bool
    ocpp_evse_id: int | None = None


@dataclass(frozen=True, slots=True)
class GetConfiguration:
    """Read configuration (1.6 GetConfiguration; 2.0.1 GetVariables).

    Keys are 1.6 key names, or `Component.Variable` for 2.0.1; no keys means all (1.6 only).
    """

    keys: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChangeConfiguration:
    """Set one key (1.6 ChangeConfiguration; 2.0.1 SetVariables with `Component.Variable`)."""

    key: str
    value: str


@dataclass(frozen=True, slots=True)
class ClearCache:
    """Empty the station's authorization cache (1.6 and 2.0.1 ClearCache)."""


@dataclass(frozen=True, slots=True)
class UpdateFirmware:
    """Download firmware from `location` at or after `retrieve_at`, install it, reboot.

    `request_id` (2.0.1) comes back in FirmwareStatusNotification; 1.6 has none.
    """

    location: str
    retrieve_at: datetime
    request_id: int


@dataclass(frozen=True, slots=True)
class UploadDiagnostics:
    """Upload a diagnostics file / log to `location` (1.6 GetDiagnostics; 2.0.1 GetLog)."""

    location: str
    request_id: int


RemoteOperation = (
    UnlockConnector
    | ChangeAvailability
    | GetConfiguration
    | ChangeConfiguration
    | ClearCache
    | UpdateFirmware
    | UploadDiagnostics
)


# -- station credentials (OCPP security: password rotation through the protocol) ---------------


@dataclass(frozen=True, slots=True)
class SetStationPassword:
    """Give the station a new HTTP Basic password (1.6 ChangeConfiguration AuthorizationKey;
    2.0.1 SetVariables SecurityCtrlr.BasicAuthPassword). It reconnects with it.

    The password never appears in the command's repr, hence in no log line.
    """

    password: str = field(repr=False)


StationCommand = (
    RequestStart
    | RequestStop
    | Reset
    | TriggerMessage
    | ReserveNow
    | CancelReservation
    | SetChargingLimit
    | RemoteOperation
    | SetStationPassword
)


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    status: CommandStatus
    detail: dict[str, Any] = field(default_factory=dict)
