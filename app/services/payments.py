"""Driver payment methods (a Stripe Customer each) and the hold placed before a remote start.

The hold's idempotency key is `payment-<id>-hold`: the payment row is written first, so a
retried hold (by the SDK after a timeout, or the reconciler) reuses the key.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from app.db.engine import SessionFactory
from app.db.models import Driver, RemoteCommand
from app.db.models.payment import LedgerKind, Payment, PaymentStatus, StripeCustomer
from app.domain.errors import NotFound
from app.services.payments_holds import hold_amount
from app.services.payments_ledger import record
from app.services.payments_results import (
    Authorised,
    CardInfo,
    PaymentDeclined,
    PaymentsNotConfigured,
    PaymentsUnavailable,
    SetupSecret,
)
from app.services.ports import PaymentGateway
from app.services.pricing import DEFAULT_CURRENCY, connector_tariff


@dataclass(frozen=True, slots=True)
class SavedPaymentMethod:
    card: CardInfo
    is_default: bool


def _configured(gateway: PaymentGateway | None) -> PaymentGateway:
    if gateway is None:
        raise PaymentsNotConfigured("payments are not configured: STRIPE_SECRET_KEY is unset")
    return gateway


async def ensure_customer(
    *, session_factory: SessionFactory, gateway: PaymentGateway, driver_id: int
) -> StripeCustomer:
    """The driver's Stripe Customer, created on first need (once, even when raced)."""
    async with session_factory() as db:
        found = await db.get(StripeCustomer, driver_id)
        driver = await db.get(Driver, driver_id)
    if found is not None:
        return found
    if driver is None:
        raise NotFound("Driver", driver_id)
    # The customer's idempotency key is the driver's: a racing second call gets the same one.
    customer_id = await gateway.create_customer(driver_id=driver_id, email=driver.email)
    async with session_factory() as db:
        row = StripeCustomer(driver_id=driver_id, customer_id=customer_id)
        db.add(row)
        try:
            await db.commit()
        except IntegrityError:
            await db.rollback()
            existing = await db.get(StripeCustomer, driver_id)
            assert existing is not None
            return existing
        await db.refresh(row)
        return row


async def add_payment_method(
    *, session_factory: SessionFactory, gateway: PaymentGateway | None, driver_id: int
) -> SetupSecret:
    """A SetupIntent for the app to confirm with Stripe's SDK (card, Apple Pay, Google Pay)."""
    gateway = _configured(gateway)
    customer = await ensure_customer(
        session_factory=session_factory, gateway=gateway, driver_id=driver_id
    )
    return await gateway.create_setup_intent(customer_id=customer.customer_id, driver_id=driver_id)


async def list_payment_methods(
    *, session_factory: SessionFactory, gateway: PaymentGateway | None, driver_id: int
) -> list[SavedPaymentMethod]:
    """The driver's saved methods, as Stripe has them; none before the first addPaymentMethod."""
    async with session_factory() as db:
        customer = await db.get(StripeCustomer, driver_id)
    if customer is None or gateway is None:
        return []
    cards = await gateway.list_payment_methods(customer_id=customer.customer_id)
    default = customer.default_payment_method_id
    if default is None and cards:
        default = cards[0].payment_method_id  # the first saved one until the driver picks
    return [SavedPaymentMethod(card, card.payment_method_id == default) for card in cards]


async def own_method(
    session_factory: SessionFactory, gateway: PaymentGateway, driver_id: int, method_id: str
) -> StripeCustomer:
    """The driver's customer, if `method_id` is attached to it; NotFound otherwise (no leak)."""
    async with session_factory() as db:
        customer = await db.get(StripeCustomer, driver_id)
    if customer is None:
        raise NotFound("PaymentMethod", method_id)
    cards = await gateway.list_payment_methods(customer_id=customer.customer_id)
    if method_id not in {card.payment_method_id for card in cards}:
        raise NotFound("PaymentMethod", method_id)
    return customer


async def set_default_payment_method(
    *,
    session_factory: SessionFactory,
    gateway: PaymentGateway | None,
    driver_id: int,
    payment_method_id: str,
) -> None:
    gateway = _configured(gateway)
    await own_method(session_factory, gateway, driver_id, payment_method_id)
    async with session_factory() as db:
        customer = await db.get(StripeCustomer, driver_id)
        assert customer is not None
        customer.default_payment_method_id = payment_method_id
        await db.commit()


async def remove_payment_method(
    *,
    session_factory: SessionFactory,
    gateway: PaymentGateway | None,
    driver_id: int,
    payment_method_id: str,
) -> None:
    gateway = _configured(gateway)
    await own_method(session_factory, gateway, driver_id, payment_method_id)
    await gateway.detach_payment_method(payment_method_id=payment_method_id)
    async with session_factory() as db:
        customer = await db.get(StripeCustomer, driver_id)
        if customer is not None and customer.default_payment_method_id == payment_method_id:
            customer.default_payment_method_id = None
            await db.commit()


async def _chosen_method(
    session_factory: SessionFactory,
    gateway: PaymentGateway,
    driver_id: int,
    payment_method_id: str | None,
) -> tuple[StripeCustomer, str | None]:
    """The driver's customer and the method to hold on: the one named (if theirs), else the
    default, else the first saved."""
    customer = await ensure_customer(
        session_factory=session_factory, gateway=gateway, driver_id=driver_id
    )
    if payment_method_id is not None:
        await own_method(session_factory, gateway, driver_id, payment_method_id)
        return customer, payment_method_id
    if customer.default_payment_method_id is not None:
        return customer, customer.default_payment_method_id
    saved = await gateway.list_payment_methods(customer_id=customer.customer_id)
    return customer, saved[0].payment_method_id if saved else None


async def _existing_hold(
    session_factory: SessionFactory, command_id: str
) -> Payment | PaymentDeclined | None:
    async with session_factory() as db:
        statement = select(Payment).where(Payment.command_id == command_id)
        payment = (await db.exec(statement)).first()
    if payment is not None and payment.status == PaymentStatus.DECLINED:
        return PaymentDeclined(message=payment.decline_message or "payment declined")
    return payment


async def hold_for_start(
    *,
    session_factory: SessionFactory,
    gateway: PaymentGateway,
    driver_id: int,
    command_id: str,
    amount_minor: int,
    payment_method_id: str | None = None,
    driver_cap_minor: int | None = None,
) -> Payment | PaymentDeclined:
    """Place the hold for the START command `command_id`, before the charger is contacted.

    The hold is `driver_cap_minor` when the driver set one, else the operator's setting for
    the tariff or location, else `amount_minor` (see `payments_holds.hold_amount`).

    Declined (or no method, or an unknown outcome): the command is FAILED, so the EVSE is free
    and the charger is never asked; a hold whose outcome is unknown is released by the
    reconciler. A retried command returns its first payment.
    """
    if (existing := await _existing_hold(session_factory, command_id)) is not None:
        return existing
    try:
        customer, method = await _chosen_method(
            session_factory, gateway, driver_id, payment_method_id
        )
    except (NotFound, PaymentsUnavailable) as exc:
        message = (
            f"you have no payment method {payment_method_id!r}"
            if isinstance(exc, NotFound)
            else "payments are unavailable now: try again"
        )
        await _fail_command(session_factory, command_id, message)
        return PaymentDeclined(message=message, code="payment_method_unavailable")
    if method is None:
        message = "no payment method: add one with addPaymentMethod first"
        await _fail_command(session_factory, command_id, message)
        return PaymentDeclined(message=message, code="no_payment_method")
    async with session_factory() as db:
        command = await db.get(RemoteCommand, command_id)
        if command is None:
            raise NotFound("RemoteCommand", command_id)
        assert command.evse_id is not None
        tariff = await connector_tariff(db, evse_id=command.evse_id)
        amount_minor = await hold_amount(
            db,
            evse_id=command.evse_id,
            tariff_id=tariff.id if tariff is not None else None,
            driver_cap_minor=driver_cap_minor,
            default_minor=amount_minor,
        )
        payment = Payment(
            driver_id=driver_id,
            command_id=command_id,
            status=PaymentStatus.HOLD_PENDING,
            currency=tariff.currency if tariff is not None else DEFAULT_CURRENCY,
            customer_id=customer.customer_id,
            payment_method_id=method,
            hold_requested_minor=amount_minor,
        )
        db.add(payment)
        try:
            await db.commit()
        except IntegrityError:  # a concurrent retry of the same command placed it first
            await db.rollback()
            existing = await _existing_hold(session_factory, command_id)
            assert existing is not None
            return existing
        await db.refresh(payment)
    assert payment.id is not None
    result = await gateway.place_hold(
        customer_id=customer.customer_id,
        payment_method_id=method,
        amount_minor=amount_minor,
        currency=payment.currency,
        idempotency_key=f"payment-{payment.id}-hold",
        metadata={"payment_id": str(payment.id), "command_id": command_id},
    )
    async with session_factory() as db:
        row = await db.get(Payment, payment.id)
        assert row is not None
        row.updated_at = datetime.now(UTC)
        if isinstance(result, Authorised):
            row.status = PaymentStatus.AUTHORISED
            row.intent_id = result.intent_id
            row.authorised_minor = result.amount_minor
            await record(db, row, LedgerKind.AUTHORISATION, "hold", result.amount_minor)
            await db.commit()
            await db.refresh(row)
            return row
        declined = (
            result
            if isinstance(result, PaymentDeclined)
            else PaymentDeclined(message="the payment could not be confirmed: try again")
        )
        if isinstance(result, PaymentDeclined):
            row.status = PaymentStatus.DECLINED
            row.intent_id = result.intent_id
        # An unknown outcome stays HOLD_PENDING: the reconciler replays and releases it.
        row.decline_message = declined.message[:255]
        await db.commit()
    await _fail_command(session_factory, command_id, declined.message)
    return declined


async def _fail_command(session_factory: SessionFactory, command_id: str, message: str) -> None:
    """End a START command that was never sent, so the EVSE is not held by it."""
    async with session_factory() as db:
        command = await db.get(RemoteCommand, command_id)
        if command is not None:
            command.status = "FAILED"
            command.detail = {**(command.detail or {}), "payment": message[:255]}
            await db.commit()
