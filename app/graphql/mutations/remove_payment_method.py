"""`removePaymentMethod`: detach one of the caller's saved methods."""

from typing import Annotated

import strawberry

from app.graphql.context import Info
from app.graphql.mutations.saved_payment_methods import change_saved_method
from app.graphql.permissions import IsDriver
from app.graphql.types.payment import PaymentMethod, PaymentMethodNotFound, PaymentsUnavailable
from app.services import payments


@strawberry.input
class RemovePaymentMethodInput:
    payment_method_id: strawberry.ID = strawberry.field(description="An id of me.paymentMethods.")


@strawberry.type
class RemovePaymentMethodPayload:
    payment_methods: list[PaymentMethod] = strawberry.field(
        description="The caller's saved methods after the change."
    )


RemovePaymentMethodResult = Annotated[
    RemovePaymentMethodPayload | PaymentMethodNotFound | PaymentsUnavailable,
    strawberry.union("RemovePaymentMethodResult"),
]


async def remove_payment_method(
    info: Info, input: RemovePaymentMethodInput
) -> RemovePaymentMethodResult:
    change = payments.remove_payment_method
    outcome = await change_saved_method(info, input.payment_method_id, change)
    if isinstance(outcome, list):
        return RemovePaymentMethodPayload(payment_methods=outcome)
    return outcome


@strawberry.type
class RemovePaymentMethodMutation:
    remove_payment_method: RemovePaymentMethodResult = strawberry.mutation(
        resolver=remove_payment_method,
        description="Remove one of your saved payment methods (detached from Stripe).",
        permission_classes=[IsDriver],
    )
