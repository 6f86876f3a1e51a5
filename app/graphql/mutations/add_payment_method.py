"""`addPaymentMethod`: a SetupIntent for the app to save a card or wallet with Stripe's SDK."""

from typing import Annotated

import strawberry

from app.graphql.context import Info
from app.graphql.permissions import IsDriver, current_driver_id
from app.graphql.types.payment import PaymentsUnavailable
from app.services import payments
from app.services.payments_results import PaymentsNotConfigured
from app.services.payments_results import PaymentsUnavailable as Unavailable


@strawberry.type(description="Confirm this with Stripe's mobile SDK to save the method.")
class PaymentMethodSetup:
    setup_intent_id: str
    client_secret: str = strawberry.field(description="Give only to Stripe's SDK; never log it.")


AddPaymentMethodResult = Annotated[
    PaymentMethodSetup | PaymentsUnavailable, strawberry.union("AddPaymentMethodResult")
]


async def add_payment_method(info: Info) -> AddPaymentMethodResult:
    try:
        setup = await payments.add_payment_method(
            session_factory=info.context.session_factory,
            gateway=info.context.payments,
            driver_id=current_driver_id(info),
        )
    except (PaymentsNotConfigured, Unavailable) as exc:
        return PaymentsUnavailable(message=str(exc))
    return PaymentMethodSetup(
        setup_intent_id=setup.setup_intent_id, client_secret=setup.client_secret
    )


@strawberry.type
class AddPaymentMethodMutation:
    add_payment_method: AddPaymentMethodResult = strawberry.mutation(
        resolver=add_payment_method,
        description="Start saving a card, Apple Pay or Google Pay: answers a SetupIntent's "
        "client secret for Stripe's SDK. The method appears in me.paymentMethods once confirmed.",
        permission_classes=[IsDriver],
    )
