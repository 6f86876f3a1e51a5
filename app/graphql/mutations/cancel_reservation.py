"""`cancelReservation`: release the caller's reservation (OCPP CancelReservation)."""

from typing import Annotated

import strawberry

from app.domain.errors import NotFound
from app.domain.reservations import ReservationStatus
from app.graphql.context import Info
from app.graphql.permissions import IsDriver, current_driver_id
from app.graphql.types import node
from app.graphql.types import reservation as types
from app.services import reservations


@strawberry.input
class CancelReservationInput:
    reservation_id: strawberry.ID


CancelReservationResult = Annotated[
    types.ReservationPayload
    | types.ReservationNotFound
    | types.ReservationExpired
    | types.ReservationNotActive,
    strawberry.union("CancelReservationResult"),
]


async def cancel_reservation(info: Info, input: CancelReservationInput) -> CancelReservationResult:
    missing = types.ReservationNotFound(message=f"reservation {input.reservation_id!r} not found")
    key = node.decode_int(input.reservation_id, types.RESERVATION)
    if key is None:
        return missing
    try:
        row = await reservations.cancel_reservation(
            session_factory=info.context.session_factory,
            commander=info.context.commander,
            driver_id=current_driver_id(info),
            reservation_id=key,
        )
    except NotFound:  # also another driver's: its existence stays hidden
        return missing
    reservation = types.Reservation.from_row(row)
    if reservation.status == ReservationStatus.EXPIRED:
        return types.ReservationExpired(
            message=f"reservation {input.reservation_id} had already expired",
            reservation=reservation,
        )
    if reservation.status in (ReservationStatus.USED, ReservationStatus.REJECTED):
        return types.ReservationNotActive(
            message=f"reservation {input.reservation_id} is {reservation.status.value}: "
            "nothing to cancel",
            reservation=reservation,
        )
    return types.ReservationPayload(reservation=reservation)


@strawberry.type
class CancelReservationMutation:
    # `resolver=` rather than a decorator: strawberry.mutation with arguments is untyped for mypy.
    cancel_reservation: CancelReservationResult = strawberry.mutation(
        resolver=cancel_reservation,
        description="Cancel the caller's reservation (idempotent: a cancelled one stays so).",
        permission_classes=[IsDriver],
    )
