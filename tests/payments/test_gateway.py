"""The gateway's reading of Stripe objects, where localstripe cannot produce the real shape.

Gap: localstripe has no wallets (Apple Pay, Google Pay arrive as cards with `card.wallet`)
and no `amount_received`; these shapes are Stripe's, built here from its documented JSON.
"""

import pytest
import stripe

from app.graphql.types.payment import PaymentMethod, WalletType
from app.payments.gateway import _card, captured_minor
from app.services.payments import SavedPaymentMethod


def stripe_object(values: dict[str, object]) -> stripe.StripeObject:
    return stripe.StripeObject.construct_from(values, "sk_test_x")


@pytest.mark.parametrize(
    ("wallet", "expected"),
    [
        (None, None),
        ({"type": "apple_pay", "apple_pay": {}}, WalletType.APPLE_PAY),
        ({"type": "google_pay", "google_pay": {}}, WalletType.GOOGLE_PAY),
        ({"type": "link"}, WalletType.OTHER),
    ],
    ids=["card", "apple-pay", "google-pay", "other-wallet"],
)
def test_a_wallet_card_is_shown_with_its_wallet(
    wallet: dict[str, object] | None, expected: WalletType | None
) -> None:
    method = stripe_object({
        "id": "pm_1", "object": "payment_method", "type": "card", "customer": "cus_1",
        "card": {"brand": "mastercard", "last4": "4444", "exp_month": 3, "exp_year": 2031,
                 "wallet": wallet},
    })  # fmt: skip
    shown = PaymentMethod.from_saved(SavedPaymentMethod(_card(method), is_default=True))
    assert (shown.brand, shown.last4, shown.exp_month, shown.exp_year) == (
        "mastercard", "4444", 3, 2031,
    )  # fmt: skip
    assert shown.wallet == expected


@pytest.mark.parametrize(
    ("intent", "expected"),
    [
        ({"id": "pi_1", "amount_received": 1234, "latest_charge": "ch_1"}, 1234),
        ({"id": "pi_1", "latest_charge": {"captured": True, "amount": 5000,
          "amount_captured": 700, "amount_refunded": 0}}, 700),
        ({"id": "pi_1", "latest_charge": {"captured": True, "amount": 5000,
          "amount_refunded": 3766}}, 1234),
        ({"id": "pi_1", "latest_charge": {"captured": False, "amount": 5000,
          "amount_refunded": 0}}, 0),
    ],
    ids=["stripe-amount-received", "stripe-charge", "localstripe-refund-of-rest", "uncaptured"],
)  # fmt: skip
def test_the_captured_amount_is_read_from_stripe_or_localstripe(
    intent: dict[str, object], expected: int
) -> None:
    assert captured_minor(stripe_object(intent)) == expected
