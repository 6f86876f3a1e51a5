"""`addRfidCard`: register an RFID card so chargers accept it for the caller."""

from typing import Annotated

import strawberry

from app.domain.errors import Conflict, InvalidInput
from app.graphql.context import Info
from app.graphql.permissions import IsDriver, current_driver_id
from app.graphql.types.id_token import IdToken
from app.services import rfid_cards


@strawberry.input
class AddRfidCardInput:
    uid: str = strawberry.field(
        description="The card's uid: 1-20 of 0-9, A-Z, a-z and '-'; matched in any case."
    )
    label: str | None = strawberry.field(default=None, description="Up to 100 characters.")


@strawberry.type
class RfidCardAdded:
    id_token: IdToken


@strawberry.type(description="The uid is already registered (by this or another driver).")
class RfidCardTaken:
    message: str


@strawberry.type(description="The uid or label is malformed: `message` names it.")
class InvalidRfidCard:
    message: str


AddRfidCardResult = Annotated[
    RfidCardAdded | RfidCardTaken | InvalidRfidCard, strawberry.union("AddRfidCardResult")
]


async def add_rfid_card(info: Info, input: AddRfidCardInput) -> AddRfidCardResult:
    try:
        row = await rfid_cards.add_rfid_card(
            session_factory=info.context.session_factory,
            driver_id=current_driver_id(info),
            uid=input.uid,
            label=input.label,
        )
    except InvalidInput as exc:
        return InvalidRfidCard(message=str(exc))
    except Conflict as exc:
        return RfidCardTaken(message=str(exc))
    return RfidCardAdded(id_token=IdToken.from_row(row))


@strawberry.type
class AddRfidCardMutation:
    # `resolver=` rather than a decorator: strawberry.mutation with arguments is untyped for mypy.
    add_rfid_card: AddRfidCardResult = strawberry.mutation(
        resolver=add_rfid_card,
        description="Register an RFID card; chargers accept it at once.",
        permission_classes=[IsDriver],
    )
