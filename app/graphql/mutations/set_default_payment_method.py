"""`setDefaultPaymentMethod`: choose the method charged when startSession names none."""

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
    context, driver_id = info.context, current_driver_id(info)
    try:
        await payments.set_default_payment_method(
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
    return SetDefaultPaymentMethodPayload(
        payment_methods=[PaymentMethod.from_saved(s) for s in saved]
    )


@strawberry.type
class SetDefaultPaymentMethodMutation:
    set_default_payment_method: SetDefaultPaymentMethodResult = strawberry.mutation(
        resolver=set_default_payment_method,
        description="Make one of your saved payment methods the default (used when startSession "
        "names none).",
        permission_classes=[IsDriver],
    )
