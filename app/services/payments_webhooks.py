"""Stripe webhook events: recorded by id and applied once, in the transaction of their change.

`HANDLERS` maps an event type to what it changes; unknown types are acknowledged and ignored
(Stripe retries anything but a 2xx, for days). Handlers only move a payment forward: an event
that arrives after the reconciler already settled the payment changes nothing.
"""

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.engine import SessionFactory
from app.db.models.payment import (
    LedgerKind,
    Payment,
    PaymentStatus,
    StripeCustomer,
    StripeEvent,
)
from app.services import memberships
from app.services.payments_ledger import record, recorded

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, dict[str, Any]], Awaitable[None]]


async def _payment(db: AsyncSession, intent: dict[str, Any]) -> Payment | None:
    found = (await db.exec(select(Payment).where(Payment.intent_id == intent.get("id")))).first()
    if found is None and intent.get("id"):
        statement = select(Payment).where(Payment.remainder_intent_id == intent["id"])
        found = (await db.exec(statement)).first()
    if found is None:
        key = (intent.get("metadata") or {}).get("payment_id")
        found = await db.get(Payment, int(str(key))) if str(key or "").isdigit() else None
    return found


def _touch(payment: Payment, status: PaymentStatus) -> None:
    payment.status = status
    payment.updated_at = datetime.now(UTC)


async def _capturable(db: AsyncSession, intent: dict[str, Any]) -> None:
    """The hold is in place (also the answer to a hold whose response was lost)."""
    payment = await _payment(db, intent)
    if payment is None or payment.status != PaymentStatus.HOLD_PENDING:
        return
    amount = int(intent.get("amount_capturable") or intent.get("amount") or 0)
    payment.intent_id, payment.authorised_minor = intent["id"], amount
    await record(db, payment, LedgerKind.AUTHORISATION, "hold", amount)
    _touch(payment, PaymentStatus.AUTHORISED)


async def _succeeded(db: AsyncSession, intent: dict[str, Any]) -> None:
    """The capture went through (its answer may have been lost): book it once."""
    payment = await _payment(db, intent)
    if payment is None or payment.status != PaymentStatus.CAPTURE_PENDING:
        return
    if "amount_received" not in intent or payment.amount_to_capture_minor is None:
        return  # the reconciler reads the intent and books it
    if payment.amount_to_capture_minor > payment.authorised_minor:
        return  # a remainder is still to be charged: the reconciler finishes it
    if await recorded(db, payment, "capture") is None:
        amount = int(intent["amount_received"])
        await record(db, payment, LedgerKind.CAPTURE, "capture", amount)
        if payment.authorised_minor > amount:
            await record(
                db, payment, LedgerKind.RELEASE, "release", payment.authorised_minor - amount
            )
        payment.captured_minor = amount
    _touch(payment, PaymentStatus.CAPTURED)


async def _failed(db: AsyncSession, intent: dict[str, Any]) -> None:
    payment = await _payment(db, intent)
    if payment is None or payment.status != PaymentStatus.HOLD_PENDING:
        return
    error = intent.get("last_payment_error") or {}
    payment.decline_message = str(error.get("message") or "payment declined")[:255]
    _touch(payment, PaymentStatus.DECLINED)


async def _canceled(db: AsyncSession, intent: dict[str, Any]) -> None:
    """The hold was released (by us, or by Stripe when it expired uncaptured)."""
    payment = await _payment(db, intent)
    if payment is None or payment.status not in (
        PaymentStatus.AUTHORISED,
        PaymentStatus.CAPTURE_PENDING,
    ):
        return
    if payment.status == PaymentStatus.CAPTURE_PENDING and payment.amount_to_capture_minor:
        # Money is owed but the hold is gone: a person must collect it.
        payment.decline_message = "the hold was cancelled before the capture"
        _touch(payment, PaymentStatus.FAILED)
        return
    await record(db, payment, LedgerKind.RELEASE, "release", payment.authorised_minor)
    _touch(payment, PaymentStatus.RELEASED)


async def _setup_succeeded(db: AsyncSession, setup: dict[str, Any]) -> None:
    """A new saved method becomes the default when the driver has none yet."""
    statement = select(StripeCustomer).where(StripeCustomer.customer_id == setup.get("customer"))
    customer = (await db.exec(statement)).first()
    method = setup.get("payment_method")
    if customer is not None and customer.default_payment_method_id is None and method:
        customer.default_payment_method_id = str(method)


async def _refunded(db: AsyncSession, charge: dict[str, Any]) -> None:
    """Refunds made in Stripe's dashboard appear in the ledger (bounded by what was taken)."""
    payment = await _payment(db, {"id": charge.get("payment_intent"), "metadata": {}})
    if payment is None:
        return
    for refund in (charge.get("refunds") or {}).get("data") or []:
        await record(
            db,
            payment,
            LedgerKind.REFUND,
            f"refund-{refund['id']}",
            int(refund["amount"]),
            intent_id=str(charge.get("payment_intent")),
            stripe_object_id=str(refund["id"]),
        )


HANDLERS: dict[str, Handler] = {
    "payment_intent.amount_capturable_updated": _capturable,
    "payment_intent.succeeded": _succeeded,
    "payment_intent.payment_failed": _failed,
    "payment_intent.canceled": _canceled,
    "setup_intent.succeeded": _setup_succeeded,
    "charge.refunded": _refunded,
    "customer.subscription.created": memberships.subscription_changed,
    "customer.subscription.updated": memberships.subscription_changed,
    "customer.subscription.deleted": memberships.subscription_changed,
    "invoice.paid": memberships.invoice_paid,
    "invoice.payment_succeeded": memberships.invoice_paid,  # what localstripe sends
    "invoice.payment_failed": memberships.invoice_failed,
}


async def apply_event(
    *, session_factory: SessionFactory, event_id: str, event_type: str, data: dict[str, Any]
) -> bool:
    """Apply one verified event; False when it was applied before (a redelivery)."""
    async with session_factory() as db:
        if await db.get(StripeEvent, event_id) is not None:
            return False
        db.add(StripeEvent(id=event_id[:64], type=event_type[:64]))
        handler = HANDLERS.get(event_type)
        if handler is not None:
            await handler(db, data)
        try:
            await db.commit()
        except IntegrityError:  # the same event, delivered twice at once: the other won
            await db.rollback()
            return False
    return True
