"""`createAdHocPayment`: a guest pays at a charger without an account (EU AFIR). Public."""

from datetime import timedelta
from typing import Annotated

import strawberry

from app.domain.errors import InvalidInput, NotFound
from app.graphql.context import Info
from app.graphql.types import node
from app.graphql.types.ad_hoc import AdHocPaymentCreated
from app.graphql.types.payment import PaymentsUnavailable
from app.graphql.types.reservation import EvseNotFound, EvseUnavailable
from app.services import adhoc_payments, commands
from app.services.payments_results import PaymentsUnavailable as Unavailable


@strawberry.input
class CreateAdHocPaymentInput:
    evse_id: strawberry.ID = strawberry.field(description="Global id of the Evse (its QR code).")
    amount_minor: int | None = strawberry.field(
        default=None,
        description="The most the guest will pay (100 to 100000 minor units): the hold. "
        "Default: the operator's hold for the tariff or location, else the network's.",
    )
    email: str | None = strawberry.field(default=None, description="Where Stripe sends a receipt.")


@strawberry.type(description="The input is malformed: `message` names the bad value.")
class InvalidAdHocPayment:
    message: str


CreateAdHocPaymentResult = Annotated[
    AdHocPaymentCreated
    | EvseNotFound
    | EvseUnavailable
    | InvalidAdHocPayment
    | PaymentsUnavailable,
    strawberry.union("CreateAdHocPaymentResult"),
]


async def create_ad_hoc_payment(
    info: Info, input: CreateAdHocPaymentInput
) -> CreateAdHocPaymentResult:
    evse_id = node.decode_int(input.evse_id, node.EVSE)
    if evse_id is None:
        return EvseNotFound(message=f"evseId {input.evse_id!r} is not an Evse id")
    context = info.context
    if context.payments is None:
        return PaymentsUnavailable(message="payments are not configured on this network")
    try:
        created = await adhoc_payments.create_ad_hoc_payment(
            session_factory=context.session_factory, gateway=context.payments,
            evse_id=evse_id, amount_minor=input.amount_minor, email=input.email,
            default_minor=context.settings.payment_hold_amount_minor,
            ttl=timedelta(seconds=context.settings.payment_ad_hoc_ttl_s),
        )  # fmt: skip
    except NotFound:
        return EvseNotFound(message=f"no EVSE has id {input.evse_id!r}")
    except commands.EvseUnavailable as exc:
        return EvseUnavailable(message=str(exc), reason=exc.reason)
    except commands.EvseReserved as exc:
        return InvalidAdHocPayment(message=str(exc))
    except InvalidInput as exc:
        return InvalidAdHocPayment(message=str(exc))
    except Unavailable:
        return PaymentsUnavailable(message="payments are unavailable now: try again")
    payment = await adhoc_payments.view(
        session_factory=context.session_factory, receipt_token=created.receipt_token
    )
    return AdHocPaymentCreated(
        payment_intent_id=created.ad_hoc.intent_id,
        client_secret=created.client_secret,
        receipt_token=created.receipt_token,
        amount_minor=payment.payment.hold_requested_minor,
        currency=payment.payment.currency,
        expires_at=created.ad_hoc.expires_at,
    )


@strawberry.type
class CreateAdHocPaymentMutation:
    create_ad_hoc_payment: CreateAdHocPaymentResult = strawberry.mutation(
        resolver=create_ad_hoc_payment,
        description="Pay at a charger without an account (public; the charger's QR code "
        "leads here): a PaymentIntent (manual capture) for Stripe.js to confirm; once it is "
        "authorised the charger starts, and the session is paid from the hold.",
    )
