"""`removeRfidCard`: block one of the caller's RFID cards."""

from typing import Annotated

import strawberry

from app.domain.errors import NotFound
from app.graphql.context import Info
from app.graphql.permissions import IsDriver, current_driver_id
from app.graphql.types.id_token import IdToken
from app.services import rfid_cards


@strawberry.input
class RemoveRfidCardInput:
    uid: str


@strawberry.type
class RfidCardRemoved:
    id_token: IdToken = strawberry.field(description="The card, now BLOCKED.")


@strawberry.type(description="The caller has no RFID card with this uid.")
class RfidCardNotFound:
    message: str


RemoveRfidCardResult = Annotated[
    RfidCardRemoved | RfidCardNotFound, strawberry.union("RemoveRfidCardResult")
]


async def remove_rfid_card(info: Info, input: RemoveRfidCardInput) -> RemoveRfidCardResult:
    try:
        row = await rfid_cards.remove_rfid_card(
            session_factory=info.context.session_factory,
            driver_id=current_driver_id(info),
            uid=input.uid,
        )
    except NotFound:
        return RfidCardNotFound(message=f"you have no RFID card {input.uid!r}")
    return RfidCardRemoved(id_token=IdToken.from_row(row))


@strawberry.type
class RemoveRfidCardMutation:
    # `resolver=` rather than a decorator: strawberry.mutation with arguments is untyped for mypy.
    remove_rfid_card: RemoveRfidCardResult = strawberry.mutation(
        resolver=remove_rfid_card,
        description=(
            "Remove one of your RFID cards: it is blocked, so chargers refuse it (idempotent)."
        ),
        permission_classes=[IsDriver],
    )
