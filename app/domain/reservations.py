"""Reservation rules: statuses, how long, and whether an EVSE can be reserved now."""

from enum import StrEnum

from app.domain.enums import EvseStatus
from app.domain.errors import Conflict

MIN_MINUTES = 1
MAX_MINUTES = 60


class ReservationStatus(StrEnum):
    """PENDING (ReserveNow sent) → ACTIVE (accepted) → USED | CANCELLED | EXPIRED; a station's
    refusal makes it REJECTED."""

    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    USED = "USED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"


HOLDING = (ReservationStatus.PENDING, ReservationStatus.ACTIVE)
"""Statuses that hold an EVSE, until the reservation's `expires_at`."""


class UnavailableReason(StrEnum):
    OFFLINE = "OFFLINE"
    OUT_OF_ORDER = "OUT_OF_ORDER"
    OCCUPIED = "OCCUPIED"
    RESERVED = "RESERVED"


_OUT_OF_ORDER = frozenset(
    {
        EvseStatus.OUTOFORDER,
        EvseStatus.INOPERATIVE,
        EvseStatus.BLOCKED,
        EvseStatus.REMOVED,
        EvseStatus.PLANNED,
    }
)


def unavailable_reason(
    *, online: bool, status: EvseStatus, charging: bool, reserved: bool
) -> UnavailableReason | None:
    """Why an EVSE cannot be reserved (None: it can). `charging`: a session is open on it;
    `reserved`: another reservation holds it (the status may lag behind the station)."""
    if not online:
        return UnavailableReason.OFFLINE
    if status in _OUT_OF_ORDER:
        return UnavailableReason.OUT_OF_ORDER
    if charging or status == EvseStatus.CHARGING:
        return UnavailableReason.OCCUPIED
    if reserved or status == EvseStatus.RESERVED:
        return UnavailableReason.RESERVED
    return None


class EvseUnavailable(Conflict):
    """The EVSE cannot be reserved now: `reason` says why."""

    def __init__(self, evse_id: int, reason: UnavailableReason) -> None:
        super().__init__(f"EVSE {evse_id} cannot be reserved: {reason.value.lower()}")
        self.evse_id = evse_id
        self.reason = reason


class ReservationLimitReached(Conflict):
    """The driver already holds a reservation (one at a time)."""

    def __init__(self, reservation_id: int) -> None:
        super().__init__(
            f"you already hold reservation {reservation_id}: cancel it before reserving again"
        )
        self.reservation_id = reservation_id
