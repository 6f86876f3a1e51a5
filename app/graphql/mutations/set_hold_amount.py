"""`setHoldAmount`: the hold placed before remote starts at a location or on a tariff."""

from typing import Annotated

import strawberry

from app.domain.errors import InvalidInput, NotFound
from app.graphql.context import Info
from app.graphql.permissions import IsOperatorAdmin, actor, operator_scope
from app.graphql.types import node
from app.graphql.types.tariff import TARIFF
from app.services import payments_holds


@strawberry.input
class SetHoldAmountInput:
    location_id: strawberry.ID | None = strawberry.field(
        default=None, description="A Location id; name this or tariffId, not both."
    )
    tariff_id: strawberry.ID | None = strawberry.field(
        default=None, description="A Tariff id; wins over the location's setting."
    )
    amount_minor: int | None = strawberry.field(
        description="The hold in minor units of the tariff's currency (100 to 100000); null "
        "removes the setting (the network default, PAYMENT_HOLD_AMOUNT_MINOR, applies)."
    )


@strawberry.type(description="The hold now placed for starts at this location or tariff.")
class HoldAmountSet:
    location_id: strawberry.ID | None
    tariff_id: strawberry.ID | None
    amount_minor: int | None = strawberry.field(description="null: the setting was removed.")


@strawberry.type(description="No location or tariff of the caller's organisation has this id.")
class HoldTargetNotFound:
    message: str


@strawberry.type(description="The input is malformed: `message` names the bad value.")
class InvalidHoldAmount:
    message: str


SetHoldAmountResult = Annotated[
    HoldAmountSet | HoldTargetNotFound | InvalidHoldAmount,
    strawberry.union("SetHoldAmountResult"),
]


async def set_hold_amount(info: Info, input: SetHoldAmountInput) -> SetHoldAmountResult:
    location = node.decode_int(input.location_id, node.LOCATION) if input.location_id else None
    tariff = node.decode_int(input.tariff_id, TARIFF) if input.tariff_id else None
    if (input.location_id and location is None) or (input.tariff_id and tariff is None):
        named = input.location_id or input.tariff_id
        return HoldTargetNotFound(message=f"{named!r} is not a Location or Tariff id")
    try:
        await payments_holds.set_hold_amount(
            session_factory=info.context.session_factory,
            scope=operator_scope(info),
            actor=actor(info),
            location_id=location,
            tariff_id=tariff,
            amount_minor=input.amount_minor,
        )
    except NotFound as exc:
        return HoldTargetNotFound(message=str(exc))
    except InvalidInput as exc:
        return InvalidHoldAmount(message=str(exc))
    return HoldAmountSet(
        location_id=input.location_id, tariff_id=input.tariff_id, amount_minor=input.amount_minor
    )


@strawberry.type
class SetHoldAmountMutation:
    set_hold_amount: SetHoldAmountResult = strawberry.mutation(
        resolver=set_hold_amount,
        description="Set the payment hold placed before remote starts at one location or on "
        "one tariff of the caller's organisation (operator admins; audited).",
        permission_classes=[IsOperatorAdmin],
    )
