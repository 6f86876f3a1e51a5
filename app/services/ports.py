"""Ports: the interfaces services call and adapters implement (wired in `app.main`)."""

from typing import Protocol

from app.domain.commands import CommandOutcome, StationCommand
from app.services.payments_results import (
    CaptureResult,
    CardInfo,
    GuestIntent,
    HoldResult,
    IntentState,
    PaymentDeclined,
    PaymentUnknown,
    PlanPrice,
    Refunded,
    RefundResult,
    ReleaseResult,
    SetupSecret,
    SubscriptionState,
)


class StationCommander(Protocol):
    """Sends commands to connected charging stations (implemented by the OCPP registry)."""

    def is_connected(self, station_id: str) -> bool: ...

    async def send(
        self, station_id: str, command: StationCommand, *, timeout_s: float | None = None
    ) -> CommandOutcome:
        """Send `command` and wait for the station's answer.

        Raises `StationNotConnected` when the station has no open connection. A station that
        does not answer within the timeout gives `CommandStatus.TIMEOUT`, not an exception.
        """
        ...


class PaymentGateway(Protocol):
    """Moves money with the payment provider (implemented by `app.payments.gateway`).

    Calls that move money take an idempotency key and answer a typed result, never raise for
    a declined card or a lost connection. The others raise `PaymentsUnavailable`.
    """

    async def create_customer(self, *, driver_id: int, email: str) -> str: ...

    async def create_setup_intent(self, *, customer_id: str, driver_id: int) -> SetupSecret: ...

    async def list_payment_methods(self, *, customer_id: str) -> list[CardInfo]: ...

    async def get_payment_method(self, *, payment_method_id: str) -> CardInfo: ...

    async def detach_payment_method(self, *, payment_method_id: str) -> None: ...

    async def place_hold(
        self,
        *,
        customer_id: str,
        payment_method_id: str,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> HoldResult: ...

    async def capture(
        self, *, intent_id: str, amount_minor: int, idempotency_key: str
    ) -> CaptureResult: ...

    async def cancel(self, *, intent_id: str, idempotency_key: str) -> ReleaseResult: ...

    async def charge(
        self,
        *,
        customer_id: str,
        payment_method_id: str,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> CaptureResult: ...

    async def retrieve_intent(self, *, intent_id: str) -> IntentState | PaymentUnknown: ...

    async def refund(
        self, *, intent_id: str, amount_minor: int, idempotency_key: str, metadata: dict[str, str]
    ) -> RefundResult: ...

    async def find_refund(
        self, *, intent_id: str, refund_key: str
    ) -> Refunded | PaymentUnknown | None: ...

    async def create_guest_intent(
        self,
        *,
        amount_minor: int,
        currency: str,
        idempotency_key: str,
        metadata: dict[str, str],
        receipt_email: str | None,
    ) -> GuestIntent:
        """A manual-capture intent without a customer, for a guest's browser to confirm."""
        ...

    async def create_plan(
        self, *, name: str, monthly_fee_minor: int, currency: str, idempotency_key: str
    ) -> PlanPrice: ...

    async def subscribe(
        self, *, customer_id: str, price_id: str, payment_method_id: str, idempotency_key: str
    ) -> SubscriptionState | PaymentDeclined: ...

    async def cancel_subscription(self, *, subscription_id: str) -> SubscriptionState: ...
