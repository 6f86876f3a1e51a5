"""`confirmAdHocPayment`: the guest's page says the card is confirmed; Stripe is asked. Public."""

import strawberry

from app.domain.errors import NotFound
from app.graphql.context import Info
from app.graphql.types.ad_hoc import AdHocSession
from app.services import adhoc_payments


@strawberry.input
class ConfirmAdHocPaymentInput:
    receipt_token: str = strawberry.field(description="From createAdHocPayment.")


async def confirm_ad_hoc_payment(
    info: Info, input: ConfirmAdHocPaymentInput
) -> AdHocSession | None:
    context = info.context
    try:
        ad_hoc = await adhoc_payments.find_by_token(
            session_factory=context.session_factory, receipt_token=input.receipt_token
        )
    except NotFound:
        return None
    if context.payments is not None:
        # The intent is re-read from Stripe: what the browser says is never trusted.
        await adhoc_payments.start_if_authorised(
            session_factory=context.session_factory, gateway=context.payments, bus=context.bus,
            commander=context.commander, runner=context.commands,
            start_window_s=context.settings.remote_command_window_s, ad_hoc_id=ad_hoc.id,
        )  # fmt: skip
    view = await adhoc_payments.view(
        session_factory=context.session_factory, receipt_token=input.receipt_token
    )
    return AdHocSession.from_view(view)


@strawberry.type
class ConfirmAdHocPaymentMutation:
    confirm_ad_hoc_payment: AdHocSession | None = strawberry.mutation(
        resolver=confirm_ad_hoc_payment,
        description="Start the charger once Stripe holds the guest's payment (public; the "
        "intent is read from Stripe, not from the caller). Null for an unknown token.",
    )
