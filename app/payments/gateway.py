"""The Stripe gateway: the `PaymentGateway` port over `StripeClient` with the async HTTPX client.

Stripe's exceptions stop here. Money-moving calls answer typed results: a declined card is
`PaymentDeclined`; a lost connection, a timeout (after the SDK's own retries, which reuse the
idempotency key) or a Stripe-side error is `PaymentUnknown`, for the reconciler to settle.
"""

import logging
from typing import Any

import stripe

from app.payments.billing import BillingCalls
from app.services.payments_results import (
    Authorised,
    Captured,
    CaptureResult,
    CardInfo,
    HoldResult,
    IntentState,
    PaymentDeclined,
    PaymentsUnavailable,
    PaymentUnknown,
    Released,
    ReleaseResult,
    SetupSecret,
)
from app.settings import Settings

log = logging.getLogger(__name__)

# Errors whose outcome is unknown: the request may or may not have reached Stripe.
_UNKNOWN = (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError)


def captured_minor(intent: Any) -> int:
    """How much of a PaymentIntent has been taken.

    Stripe reports `amount_received`; localstripe (the test server) lacks it and books a
    partial capture as a refund of the rest on the charge, hence the fallbacks.
    """
    # Stripe objects are not dicts (no `.get`): missing attributes read as None via getattr.
    if (received := getattr(intent, "amount_received", None)) is not None:
        return int(received)
    charge = getattr(intent, "latest_charge", None)
    if charge is None or isinstance(charge, str) or not charge["captured"]:
        return 0
    if (amount_captured := getattr(charge, "amount_captured", None)) is not None:
        return int(amount_captured)
    return int(charge["amount"]) - int(charge["amount_refunded"])


def _card(method: Any) -> CardInfo:
    card = method["card"]
    wallet = getattr(card, "wallet", None)
    return CardInfo(
        payment_method_id=method.id,
        brand=str(card["brand"]),
        last4=str(card["last4"]),
        exp_month=int(card["exp_month"]),
        exp_year=int(card["exp_year"]),
        wallet=str(wallet["type"]) if wallet is not None else None,
        customer_id=getattr(method, "customer", None),
    )


class StripeHttpxClient(stripe.HTTPXClient):
    """The SDK's HTTPX client, sending the form body as `content=`: its `data=<bytes>` is
    deprecated by httpx (a DeprecationWarning on every call, an error under strict warnings)."""

    def _get_request_args_kwargs(  # type: ignore[no-untyped-def]
        self, method: str, url: str, headers: Any, post_data: Any
    ):
        args, kwargs = super()._get_request_args_kwargs(method, url, headers, post_data)
        data = kwargs.pop("data", None)
        if data:
            kwargs["content"] = data
        return args, kwargs


def _declined(error: stripe.StripeError, intent_id: str | None = None) -> PaymentDeclined:
    message = error.user_message or "The card was declined."
    return PaymentDeclined(message=message, code=error.code, intent_id=intent_id)


class StripeGateway(BillingCalls):
    """One `StripeClient` for the app's lifetime; `close()` releases its connection pool.

    Refunds, guest intents and membership billing are in `app.payments.billing`."""

    def __init__(self, settings: Settings) -> None:
        if settings.stripe_secret_key is None:
            raise ValueError("STRIPE_SECRET_KEY is not set: expected sk_live_... or sk_test_...")
        self._http = StripeHttpxClient(timeout=settings.stripe_timeout_s)
        self._client = stripe.StripeClient(
            settings.stripe_secret_key.get_secret_value(),
            base_addresses={"api": settings.stripe_api_base} if settings.stripe_api_base else None,
            max_network_retries=settings.stripe_max_network_retries,
            http_client=self._http,
        )

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]

    async def create_customer(self, *, driver_id: int, email: str) -> str:
        try:
            customer = await self._client.v1.customers.create_async(
                params={"email": email, "metadata": {"driver_id": str(driver_id)}},
                options={"idempotency_key": f"driver-{driver_id}-customer"},
            )
        except stripe.StripeError as exc:
            raise PaymentsUnavailable(f"could not create a Stripe customer: {exc}") from exc
        return str(customer.id)

    async def create_setup_intent(self, *, customer_id: str, driver_id: int) -> SetupSecret:
        try:
            intent = await self._client.v1.setup_intents.create_async(
                params={
                    "customer": customer_id,
                    "usage": "off_session",
                    "metadata": {"driver_id": str(driver_id)},
                }
            )
        except stripe.StripeError as exc:
            raise PaymentsUnavailable(f"could not create a SetupIntent: {exc}") from exc
        assert intent.client_secret is not None
        return SetupSecret(setup_intent_id=intent.id, client_secret=intent.client_secret)

    async def list_payment_methods(self, *, customer_id: str) -> list[CardInfo]:
        try:
            methods = await self._client.v1.payment_methods.list_async(
                params={"customer": customer_id, "type": "card"}
            )
        except stripe.StripeError as exc:
            raise PaymentsUnavailable(f"could not list payment methods: {exc}") from exc
        return [_card(method) for method in methods.data]

    async def get_payment_method(self, *, payment_method_id: str) -> CardInfo:
        try:
            method = await self._client.v1.payment_methods.retrieve_async(payment_method_id)
        except stripe.StripeError as exc:
            raise PaymentsUnavailable(f"could not read {payment_method_id}: {exc}") from exc
        return _card(method)

    async def detach_payment_method(self, *, payment_method_id: str) -> None:
        try:
            await self._client.v1.payment_methods.detach_async(payment_method_id)
        except stripe.StripeError as exc:
            raise PaymentsUnavailable(f"could not detach {payment_method_id}: {exc}") from exc

    async def place_hold(
        self,
        *,
        customer_id: str,
        payment_method_id: str,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> HoldResult:
        try:
            intent = await self._client.v1.payment_intents.create_async(
                params={
                    "amount": amount_minor,
                    "currency": currency.lower(),
                    "customer": customer_id,
                    "payment_method": payment_method_id,
                    "capture_method": "manual",
                    "confirm": True,
                    "off_session": True,
                    "metadata": metadata,
                },
                options={"idempotency_key": idempotency_key},
            )
        except stripe.CardError as exc:
            return _declined(exc)
        except _UNKNOWN as exc:
            log.warning("hold %s: outcome unknown: %s", idempotency_key, exc)
            return PaymentUnknown(reason=str(exc))
        except stripe.StripeError as exc:
            return _declined(exc)
        if intent.status != "requires_capture":
            return PaymentDeclined(
                message=f"the card needs the driver's action ({intent.status})",
                code=intent.status,
                intent_id=intent.id,
            )
        return Authorised(intent_id=intent.id, amount_minor=intent.amount, currency=currency)

    async def capture(
        self, *, intent_id: str, amount_minor: int, idempotency_key: str
    ) -> CaptureResult:
        try:
            intent = await self._client.v1.payment_intents.capture_async(
                intent_id,
                params={"amount_to_capture": amount_minor},
                options={"idempotency_key": idempotency_key},
            )
        except _UNKNOWN as exc:
            log.warning("capture %s: outcome unknown: %s", idempotency_key, exc)
            return PaymentUnknown(reason=str(exc))
        except stripe.StripeError as exc:
            # Already captured (a retry whose first attempt went through but whose answer was
            # lost, on a server that ignores Idempotency-Key): the intent says what happened.
            state = await self.retrieve_intent(intent_id=intent_id)
            if isinstance(state, IntentState) and state.status == "succeeded":
                return Captured(intent_id=intent_id, amount_minor=state.captured_minor)
            if isinstance(state, PaymentUnknown):
                return state
            return _declined(exc, intent_id)
        return Captured(intent_id=intent.id, amount_minor=captured_minor(intent))

    async def cancel(self, *, intent_id: str, idempotency_key: str) -> ReleaseResult:
        try:
            await self._client.v1.payment_intents.cancel_async(
                intent_id, options={"idempotency_key": idempotency_key}
            )
        except _UNKNOWN as exc:
            return PaymentUnknown(reason=str(exc))
        except stripe.StripeError as exc:
            state = await self.retrieve_intent(intent_id=intent_id)
            if isinstance(state, IntentState) and state.status == "canceled":
                return Released(intent_id=intent_id)
            return PaymentUnknown(reason=f"cancel refused: {exc}")
        return Released(intent_id=intent_id)

    async def charge(
        self,
        *,
        customer_id: str,
        payment_method_id: str,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> CaptureResult:
        try:
            intent = await self._client.v1.payment_intents.create_async(
                params={
                    "amount": amount_minor,
                    "currency": currency.lower(),
                    "customer": customer_id,
                    "payment_method": payment_method_id,
                    "confirm": True,
                    "off_session": True,
                    "metadata": metadata,
                },
                options={"idempotency_key": idempotency_key},
            )
        except stripe.CardError as exc:
            return _declined(exc)
        except _UNKNOWN as exc:
            return PaymentUnknown(reason=str(exc))
        except stripe.StripeError as exc:
            return _declined(exc)
        return Captured(intent_id=intent.id, amount_minor=amount_minor)

    async def retrieve_intent(self, *, intent_id: str) -> IntentState | PaymentUnknown:
        try:
            intent = await self._client.v1.payment_intents.retrieve_async(
                intent_id, params={"expand": ["latest_charge"]}
            )
        except stripe.StripeError as exc:
            return PaymentUnknown(reason=str(exc))
        return IntentState(
            intent_id=intent.id,
            status=str(intent.status),
            amount_minor=intent.amount,
            captured_minor=captured_minor(intent),
        )
