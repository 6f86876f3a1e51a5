"""Reservations of an EVSE by a driver, and the typed results of reserving and cancelling."""

from datetime import datetime

import strawberry
from strawberry import relay

from app.db import models
from app.domain.reservations import ReservationStatus, UnavailableReason
from app.graphql import fields
from app.graphql.context import Info
from app.graphql.types import node
from app.graphql.types.station import Evse

RESERVATION = "Reservation"

strawberry.enum(
    ReservationStatus,
    description=(
        "PENDING (sent to the charger), ACTIVE (held), USED (the driver started charging), "
        "CANCELLED, EXPIRED, REJECTED (the charger refused)."
    ),
)
strawberry.enum(
    UnavailableReason,
    name="EvseUnavailableReason",
    description="Why an EVSE cannot be reserved or started now.",
)


@strawberry.type(description="An EVSE held for one driver until `expiresAt`.")
class Reservation:
    id: relay.GlobalID = strawberry.field(description="Global id; its key is OCPP reservationId.")
    status: ReservationStatus
    expires_at: datetime
    created_at: datetime
    evse_id: strawberry.Private[int]

    @fields.field(description="The reserved EVSE; null if it was removed since.")
    async def evse(self, info: Info) -> Evse | None:
        row = await info.context.loaders.evse.load(self.evse_id)
        return Evse.from_row(row) if row is not None else None

    @classmethod
    def from_row(cls, row: models.Reservation) -> "Reservation":
        assert row.id is not None
        return cls(
            id=node.global_id(RESERVATION, row.id),
            status=ReservationStatus(row.status),
            expires_at=row.expires_at,
            created_at=row.created_at,
            evse_id=row.evse_id,
        )


@strawberry.type(description="The reservation as it is now.")
class ReservationPayload:
    reservation: Reservation


@strawberry.type(description="No EVSE has this id.")
class EvseNotFound:
    message: str


@strawberry.type(description="The EVSE cannot be reserved or started now (see `reason`).")
class EvseUnavailable:
    message: str
    reason: UnavailableReason


@strawberry.type(description="The driver already holds a reservation: one at a time.")
class ReservationLimitReached:
    message: str
    active_reservation_id: relay.GlobalID


@strawberry.type(description="An input value is out of range or malformed.")
class InvalidReservationInput:
    message: str
    field: str


@strawberry.type(
    description="The charger refused the reservation; `stationStatus` is its answer "
    "(Occupied, Faulted, Unavailable, Rejected)."
)
class ReservationRejected:
    message: str
    station_status: str | None
    reservation: Reservation


@strawberry.type(
    description="The charger did not answer in time: the reservation was cancelled here."
)
class ReservationTimedOut:
    message: str
    reservation: Reservation


@strawberry.type(description="The caller has no reservation with this id.")
class ReservationNotFound:
    message: str


@strawberry.type(description="The reservation had already expired.")
class ReservationExpired:
    message: str
    reservation: Reservation


@strawberry.type(description="The reservation was already used or rejected: nothing to cancel.")
class ReservationNotActive:
    message: str
    reservation: Reservation
