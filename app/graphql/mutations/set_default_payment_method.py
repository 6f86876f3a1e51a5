"""`setDefaultPaymentMethod`: choose the method charged when startSession names none."""

from typing import Annotated

import strawberry

from app.graphql.context import Info
from app.graphql.mutations.saved_payment_methods import change_saved_method
from app.graphql.permissions import IsDriver
from app.graphql.types.payment import PaymentMethod, PaymentMethodNotFound, PaymentsUnavailable
from app.services import payments


@strawberry.input
class SetDefaultPaymentMethodInput:
    payment_method_id: strawberry.ID = strawberry.field(description="An id of me.paymentMethods.")


@strawberry.type
class SetDefaultPaymentMethodPayload:
    payment_methods: list[PaymentMethod] = strawberry.field(
        description="The caller's saved methods after the change."
    )


SetDefaultPaymentMethodResult = Annotated[
    SetDefaultPaymentMethodPayload | PaymentMethodNotFound | PaymentsUnavailable,
    strawberry.union("SetDefaultPaymentMethodResult"),
]


async def set_default_payment_method(
    info: Info, input: SetDefaultPaymentMethodInput
) -> SetDefaultPaymentMethodResult:
    change = payments.set_default_payment_method
    outcome = await change_saved_method(info, input.payment_method_id, change)
    if isinstance(outcome, list):
        return SetDefaultPaymentMethodPayload(payment_methods=outcome)
    return outcome


@strawberry.type
class SetDefaultPaymentMethodMutation:
    set_default_payment_method: SetDefaultPaymentMethodResult = strawberry.mutation(
        resolver=set_default_payment_method,
        description="Make one of your saved payment methods the default (used when startSession "
        "names none).",
        permission_classes=[IsDriver],
    )
