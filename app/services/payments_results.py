"""What the payment gateway answers: typed results, never a provider's exception or object."""

from dataclasses import dataclass

from app.domain.errors import CommandFailed, DomainError


class PaymentsUnavailable(CommandFailed):
    """The payment provider could not be reached or refused a call that moves no money."""


class PaymentsNotConfigured(DomainError):
    """STRIPE_SECRET_KEY is not set: payments are off on this instance."""


@dataclass(frozen=True, slots=True)
class Authorised:
    """A hold placed: `amount_minor` is reserved on the card until captured or cancelled."""

    intent_id: str
    amount_minor: int
    currency: str


@dataclass(frozen=True, slots=True)
class Captured:
    """Money taken on `intent_id`: `amount_minor` in total (the rest of a hold is released)."""

    intent_id: str
    amount_minor: int


@dataclass(frozen=True, slots=True)
class Released:
    """The hold on `intent_id` was cancelled: nothing was taken."""

    intent_id: str


@dataclass(frozen=True, slots=True)
class PaymentDeclined:
    """The card issuer or the provider said no; `message` is safe to show to the driver."""

    message: str
    code: str | None = None
    intent_id: str | None = None


@dataclass(frozen=True, slots=True)
class PaymentUnknown:
    """No answer (network, timeout, provider error): the outcome is unknown and must be
    settled later by repeating the call with the same idempotency key."""

    reason: str


@dataclass(frozen=True, slots=True)
class IntentState:
    """A PaymentIntent as the provider sees it now (status in Stripe's words)."""

    intent_id: str
    status: str
    amount_minor: int
    captured_minor: int


@dataclass(frozen=True, slots=True)
class SetupSecret:
    setup_intent_id: str
    client_secret: str


@dataclass(frozen=True, slots=True)
class CardInfo:
    """A saved payment method. `wallet` is apple_pay, google_pay, ... or None for a plain card."""

    payment_method_id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int
    wallet: str | None
    customer_id: str | None


HoldResult = Authorised | PaymentDeclined | PaymentUnknown
CaptureResult = Captured | PaymentDeclined | PaymentUnknown
ReleaseResult = Released | PaymentUnknown


@dataclass(frozen=True, slots=True)
class Refunded:
    """Money returned to the card: `amount_minor` of `intent_id`'s capture."""

    refund_id: str
    intent_id: str
    amount_minor: int


@dataclass(frozen=True, slots=True)
class GuestIntent:
    """A manual-capture PaymentIntent a guest confirms in the browser with `client_secret`."""

    intent_id: str
    client_secret: str


@dataclass(frozen=True, slots=True)
class PlanPrice:
    """A membership plan at the provider: a Product and its monthly recurring price."""

    product_id: str
    price_id: str


@dataclass(frozen=True, slots=True)
class SubscriptionState:
    """A subscription as the provider sees it (status in Stripe's words: active, ...)."""

    subscription_id: str
    status: str
    current_period_end: int | None  # Unix seconds


RefundResult = Refunded | PaymentDeclined | PaymentUnknown
