"""`removePaymentMethod`: detach one of the caller's saved methods."""

from typing import Annotated

import strawberry

from app.domain.errors import NotFound
from app.graphql.context import Info
from app.graphql.permissions import IsDriver, current_driver_id
from app.graphql.types.payment import PaymentMethod, PaymentMethodNotFound, PaymentsUnavailable
from app.services import payments
from app.services.payments_results import PaymentsNotConfigured
from app.services.payments_results import PaymentsUnavailable as Unavailable


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
    context, driver_id = info.context, current_driver_id(info)
    try:
        await payments.remove_payment_method(
            session_factory=context.session_factory,
            gateway=context.payments,
            driver_id=driver_id,
            payment_method_id=str(input.payment_method_id),
        )
        saved = await payments.list_payment_methods(
            session_factory=context.session_factory, gateway=context.payments, driver_id=driver_id
        )
    except NotFound:
        return PaymentMethodNotFound(
            message=f"you have no payment method {str(input.payment_method_id)!r}"
        )
    except (PaymentsNotConfigured, Unavailable) as exc:
        return PaymentsUnavailable(message=str(exc))
    return RemovePaymentMethodPayload(payment_methods=[PaymentMethod.from_saved(s) for s in saved])


@strawberry.type
class RemovePaymentMethodMutation:
    remove_payment_method: RemovePaymentMethodResult = strawberry.mutation(
        resolver=remove_payment_method,
        description="Remove one of your saved payment methods (detached from Stripe).",
        permission_classes=[IsDriver],
    )
