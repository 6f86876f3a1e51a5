"""Payments in the API: saved payment methods and the typed payment failures."""

from enum import Enum

import strawberry

from app.services.payments import SavedPaymentMethod


@strawberry.enum(description="The mobile wallet a card came from.")
class WalletType(Enum):
    APPLE_PAY = "apple_pay"
    GOOGLE_PAY = "google_pay"
    OTHER = "other"


@strawberry.type(description="A card or wallet the driver saved; charged off-session.")
class PaymentMethod:
    id: strawberry.ID = strawberry.field(description="The provider's id (Stripe pm_...).")
    brand: str = strawberry.field(description="visa, mastercard, amex, ...")
    last4: str
    exp_month: int
    exp_year: int
    wallet: WalletType | None = strawberry.field(
        description="Set when the card came from Apple Pay, Google Pay or another wallet."
    )
    is_default: bool = strawberry.field(description="Used when startSession names no method.")

    @classmethod
    def from_saved(cls, saved: SavedPaymentMethod) -> "PaymentMethod":
        card = saved.card
        wallet = None
        if card.wallet is not None:
            wallet = {"apple_pay": WalletType.APPLE_PAY, "google_pay": WalletType.GOOGLE_PAY}.get(
                card.wallet, WalletType.OTHER
            )
        return cls(
            id=strawberry.ID(card.payment_method_id),
            brand=card.brand,
            last4=card.last4,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
            wallet=wallet,
            is_default=saved.is_default,
        )


@strawberry.type(
    description="The card was declined, or no usable method: the charger is not started."
)
class PaymentDeclined:
    message: str


@strawberry.type(description="The caller has no saved payment method with this id.")
class PaymentMethodNotFound:
    message: str


@strawberry.type(
    description="Payments are unavailable now (not configured, or the provider is down)."
)
class PaymentsUnavailable:
    message: str
