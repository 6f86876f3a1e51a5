"""`reserveEvse`: hold an EVSE for the caller for a few minutes (OCPP ReserveNow)."""

from typing import Annotated

import strawberry

from app.domain.errors import InvalidInput, NotFound
from app.domain.reservations import (
    MAX_MINUTES,
    MIN_MINUTES,
    EvseUnavailable,
    ReservationLimitReached,
    ReservationStatus,
)
from app.graphql.context import Info
from app.graphql.permissions import IsDriver, current_driver_id
from app.graphql.types import node
from app.graphql.types import reservation as types
from app.services import reservations


@strawberry.input
class ReserveEvseInput:
    evse_id: strawberry.ID
    minutes: int = strawberry.field(description=f"{MIN_MINUTES} to {MAX_MINUTES}.")


ReserveEvseResult = Annotated[
    types.ReservationPayload
    | types.EvseNotFound
    | types.EvseUnavailable
    | types.ReservationLimitReached
    | types.ReservationRejected
    | types.ReservationTimedOut
    | types.InvalidReservationInput,
    strawberry.union("ReserveEvseResult"),
]


async def reserve_evse(info: Info, input: ReserveEvseInput) -> ReserveEvseResult:
    missing = types.EvseNotFound(message=f"EVSE {input.evse_id!r} not found")
    evse_id = node.decode_int(input.evse_id, node.EVSE)
    if evse_id is None:
        return missing
    try:
        outcome = await reservations.reserve_evse(
            session_factory=info.context.session_factory,
            commander=info.context.commander,
            driver_id=current_driver_id(info),
            evse_id=evse_id,
            minutes=input.minutes,
        )
    except InvalidInput as exc:
        return types.InvalidReservationInput(message=str(exc), field="minutes")
    except NotFound as exc:
        if exc.kind != "Evse":
            raise
        return missing
    except EvseUnavailable as exc:
        return types.EvseUnavailable(message=str(exc), reason=exc.reason)
    except ReservationLimitReached as exc:
        return types.ReservationLimitReached(
            message=str(exc),
            active_reservation_id=node.global_id(types.RESERVATION, exc.reservation_id),
        )
    reservation = types.Reservation.from_row(outcome.reservation)
    if outcome.timed_out:
        return types.ReservationTimedOut(
            message="the charger did not answer in time: the reservation was cancelled",
            reservation=reservation,
        )
    if reservation.status == ReservationStatus.REJECTED:
        return types.ReservationRejected(
            message=f"the charger refused the reservation ({outcome.answer or 'no status'})",
            station_status=outcome.answer,
            reservation=reservation,
        )
    return types.ReservationPayload(reservation=reservation)


@strawberry.type
class ReserveEvseMutation:
    # `resolver=` rather than a decorator: strawberry.mutation with arguments is untyped for mypy.
    reserve_evse: ReserveEvseResult = strawberry.mutation(
        resolver=reserve_evse,
        description=(
            "Reserve an EVSE for the caller (one reservation at a time). Waits for the charger's "
            "answer; the EVSE shows RESERVED once the charger reports it."
        ),
        permission_classes=[IsDriver],
    )
