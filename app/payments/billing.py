"""The gateway's calls beyond holds and captures: refunds, guest intents, membership billing.

Mixed into `StripeGateway` (`self._client` is its `StripeClient`). Plans use Stripe's Plans
API (a Product with a monthly recurring Plan): Prices are what Stripe recommends today, but
the fake server the tests run against (localstripe) has Plans and no Prices; a Plan id is
accepted wherever Stripe takes a Price id.
"""

import logging
from typing import Any

import stripe

from app.services.payments_results import (
    GuestIntent,
    PaymentDeclined,
    PaymentsUnavailable,
    PaymentUnknown,
    PlanPrice,
    Refunded,
    RefundResult,
    SubscriptionState,
)

log = logging.getLogger(__name__)

_UNKNOWN = (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError)


def subscription_state(subscription: Any) -> SubscriptionState:
    end = getattr(subscription, "current_period_end", None)
    return SubscriptionState(
        subscription_id=str(subscription.id),
        status=str(subscription.status),
        current_period_end=int(end) if end is not None else None,
    )


class BillingCalls:
    _client: stripe.StripeClient

    async def refund(
        self, *, intent_id: str, amount_minor: int, idempotency_key: str, metadata: dict[str, str]
    ) -> RefundResult:
        try:
            refund = await self._client.v1.refunds.create_async(
                params={"payment_intent": intent_id, "amount": amount_minor, "metadata": metadata},
                options={"idempotency_key": idempotency_key},
            )
        except _UNKNOWN as exc:
            log.warning("refund %s: outcome unknown: %s", idempotency_key, exc)
            return PaymentUnknown(reason=str(exc))
        except stripe.StripeError as exc:
            return PaymentDeclined(message=f"the refund was refused: {exc.user_message or exc}")
        return Refunded(refund_id=refund.id, intent_id=intent_id, amount_minor=refund.amount)

    async def find_refund(
        self, *, intent_id: str, refund_key: str
    ) -> Refunded | PaymentUnknown | None:
        """The refund of `intent_id` made with `refund_key` (in its metadata), if any: what a
        retry checks first, so a refund whose answer was lost is found, not made twice."""
        try:
            listed = await self._client.v1.refunds.list_async(
                params={"payment_intent": intent_id, "limit": 100}
            )
        except stripe.StripeError as exc:
            return PaymentUnknown(reason=str(exc))
        for refund in listed.data:
            metadata: dict[str, Any] = refund.metadata.to_dict() if refund.metadata else {}
            if metadata.get("refund_key") == refund_key:
                return Refunded(
                    refund_id=refund.id, intent_id=intent_id, amount_minor=refund.amount
                )
        return None

    async def create_guest_intent(
        self,
        *,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
        metadata: dict[str, str],
        receipt_email: str | None,
    ) -> GuestIntent:
        params: dict[str, Any] = {
            "amount": amount_minor,
            "currency": currency.lower(),
            "capture_method": "manual",
            "payment_method_types": ["card"],
            "metadata": metadata,
        }
        if receipt_email is not None:
            # Kept as metadata: Stripe's own `receipt_email` is not sent, as the test server
            # (localstripe) refuses it; our receipt is the guest's `adHocSession`.
            params["metadata"] = {**metadata, "receipt_email": receipt_email}
        try:
            intent = await self._client.v1.payment_intents.create_async(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise PaymentsUnavailable(f"could not create a guest PaymentIntent: {exc}") from exc
        assert intent.client_secret is not None
        return GuestIntent(intent_id=intent.id, client_secret=intent.client_secret)

    async def create_plan(
        self, *, name: str, monthly_fee_minor: int, currency: str, idempotency_key: str
    ) -> PlanPrice:
        try:
            product = await self._client.v1.products.create_async(
                params={"name": name}, options={"idempotency_key": f"{idempotency_key}-product"}
            )
            plan = await self._client.v1.plans.create_async(
                params={
                    "product": product.id,
                    "amount": monthly_fee_minor,
                    "currency": currency.lower(),
                    "interval": "month",
                },
                options={"idempotency_key": f"{idempotency_key}-plan"},
            )
        except stripe.StripeError as exc:
            raise PaymentsUnavailable(f"could not create the plan {name!r}: {exc}") from exc
        return PlanPrice(product_id=product.id, price_id=plan.id)

    async def subscribe(
        self, *, customer_id: str, price_id: str, payment_method_id: str, idempotency_key: str
    ) -> SubscriptionState | PaymentDeclined:
        """Subscribe with `payment_method_id` as the customer's invoice method (the first
        invoice is paid at once; a declined card leaves the subscription `incomplete`)."""
        try:
            await self._client.v1.customers.update_async(
                customer_id,
                params={"invoice_settings": {"default_payment_method": payment_method_id}},
            )
            subscription = await self._client.v1.subscriptions.create_async(
                params={"customer": customer_id, "items": [{"plan": price_id}]},
                options={"idempotency_key": idempotency_key},
            )
        except stripe.CardError as exc:
            return PaymentDeclined(message=exc.user_message or "The card was declined.")
        except stripe.StripeError as exc:
            raise PaymentsUnavailable(f"could not subscribe: {exc}") from exc
        return subscription_state(subscription)

    async def cancel_subscription(self, *, subscription_id: str) -> SubscriptionState:
        try:
            subscription = await self._client.v1.subscriptions.cancel_async(subscription_id)
        except stripe.StripeError as exc:
            raise PaymentsUnavailable(f"could not cancel {subscription_id}: {exc}") from exc
        return subscription_state(subscription)
