"""Version-neutral commands the CSMS sends to a station, and their outcomes.

The OCPP adapter maps each to the 1.6 or 2.0.1 message of the station's protocol.
"""

from dataclasses import dataclass, field
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


StationCommand = RequestStart | RequestStop | Reset | TriggerMessage


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    status: CommandStatus
    detail: dict[str, Any] = field(default_factory=dict)
