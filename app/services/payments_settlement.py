"""Settling a session's payment: capture the final price, release the rest, charge any excess.

The transaction that writes the CDR marks the payment CAPTURE_PENDING with the amount owed
(`mark_capture_pending`); the reconciler then calls `settle_payment` outside any transaction.
Each step (`capture`, `release`, `remainder`) is checked against the ledger before it is
tried and recorded once after it succeeds, and its Stripe idempotency key is
`payment-<id>-<step>`: a crash or timeout between the two never moves money twice.
"""

import logging
from datetime import UTC, datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.engine import SessionFactory
from app.db.models import Cdr, ChargingSession, RemoteCommand
from app.db.models.payment import LedgerKind, Payment, PaymentStatus, StripeCustomer
from app.services.payments_ledger import record, recorded
from app.services.payments_results import (
    Authorised,
    Captured,
    PaymentDeclined,
    Released,
)
from app.services.ports import PaymentGateway

log = logging.getLogger(__name__)

HOLD_REPLAY_AFTER = timedelta(minutes=1)  # a hold still pending this long lost its answer
# START outcomes after which no session will come: the charger was never asked, refused, or
# answered too late (a late start is refused). The hold of such a start is released.
NO_SESSION = ("FAILED", "REJECTED", "EVSE_OCCUPIED", "EVSE_INOPERATIVE", "TIMEOUT")


async def _bill_without_hold(db: AsyncSession, session: ChargingSession, cdr: Cdr) -> None:
    """A session started without a hold (an RFID card, a local start) by a driver with a
    default payment method: the CDR's total is owed and charged off-session by the
    reconciler (`payment-<id>-remainder`, so a retry never charges twice)."""
    if session.driver_id is None or cdr.total_incl_vat_minor <= 0:
        return
    customer = await db.get(StripeCustomer, session.driver_id)
    if customer is None or customer.default_payment_method_id is None:
        return
    existing = await db.exec(select(Payment.id).where(Payment.session_id == session.id))
    if existing.first() is not None:
        return
    db.add(
        Payment(
            driver_id=session.driver_id,
            session_id=session.id,
            status=PaymentStatus.CAPTURE_PENDING,
            currency=cdr.currency,
            customer_id=customer.customer_id,
            payment_method_id=customer.default_payment_method_id,
            amount_to_capture_minor=cdr.total_incl_vat_minor,
        )
    )


async def mark_capture_pending(db: AsyncSession, session: ChargingSession, cdr: Cdr) -> None:
    """In the transaction that ends `session`: its held payment now owes the CDR's total;
    a session without a hold is billed to the driver's default method."""
    if session.remote_start_id is None:
        await _bill_without_hold(db, session, cdr)
        return
    statement = (
        select(Payment)
        .join(RemoteCommand, col(RemoteCommand.id) == col(Payment.command_id))
        .where(RemoteCommand.remote_start_id == session.remote_start_id)
    )
    payment = (await db.exec(statement)).first()
    if payment is None or payment.status != PaymentStatus.AUTHORISED:
        return
    payment.session_id = session.id
    payment.amount_to_capture_minor = cdr.total_incl_vat_minor
    payment.updated_at = datetime.now(UTC)
    if cdr.currency != payment.currency:
        # The hold was placed in the tariff's currency at start: a different one needs a human.
        log.error("payment %s: CDR in %s, hold in %s", payment.id, cdr.currency, payment.currency)
        payment.status = PaymentStatus.FAILED
        payment.decline_message = f"CDR currency {cdr.currency} is not the hold's"
        return
    payment.status = PaymentStatus.CAPTURE_PENDING
    db.add(payment)


async def _step(
    session_factory: SessionFactory,
    payment_id: int,
    steps: list[tuple[LedgerKind, str, int]],
    intent_id: str | None = None,
) -> Payment:
    async with session_factory() as db:
        payment = await db.get(Payment, payment_id)
        assert payment is not None
        for kind, step, amount in steps:
            await record(db, payment, kind, step, amount, intent_id=intent_id)
        await db.commit()
        await db.refresh(payment)
        return payment


async def _finish(
    session_factory: SessionFactory,
    payment_id: int,
    status: PaymentStatus,
    *,
    message: str | None = None,
    attempt: bool = False,
) -> Payment:
    async with session_factory() as db:
        payment = await db.get(Payment, payment_id)
        assert payment is not None
        payment.status = status
        payment.updated_at = datetime.now(UTC)
        if message is not None:
            payment.decline_message = message[:255]
        if attempt:
            payment.attempts += 1
        if status == PaymentStatus.CAPTURED:
            sums = await _captured(db, payment)
            payment.captured_minor = sums
        await db.commit()
        await db.refresh(payment)
        return payment


async def _captured(db: AsyncSession, payment: Payment) -> int:
    total = 0
    for step in ("capture", "remainder"):
        entry = await recorded(db, payment, step)
        total += entry.amount_minor if entry is not None else 0
    return total


async def _release(
    session_factory: SessionFactory, gateway: PaymentGateway, payment: Payment
) -> Payment:
    """Cancel the whole hold: nothing is taken."""
    assert payment.id is not None
    assert payment.intent_id is not None
    released = await gateway.cancel(
        intent_id=payment.intent_id, idempotency_key=f"payment-{payment.id}-release"
    )
    if not isinstance(released, Released):
        return await _finish(session_factory, payment.id, payment.status, attempt=True)
    steps = [(LedgerKind.RELEASE, "release", payment.authorised_minor)]
    await _step(session_factory, payment.id, steps)
    return await _finish(session_factory, payment.id, PaymentStatus.RELEASED)


async def settle_payment(
    *, session_factory: SessionFactory, gateway: PaymentGateway, payment_id: int
) -> Payment:
    """Take what a CAPTURE_PENDING payment owes; anything else is returned unchanged."""
    async with session_factory() as db:
        payment = await db.get(Payment, payment_id)
        assert payment is not None
        assert payment.id is not None
        done = {
            step: await recorded(db, payment, step) is not None
            for step in ("capture", "release", "remainder")
        }
    if payment.status != PaymentStatus.CAPTURE_PENDING:
        return payment
    assert payment.amount_to_capture_minor is not None
    owed, held = payment.amount_to_capture_minor, payment.authorised_minor
    key = f"payment-{payment.id}"
    if owed == 0 and payment.intent_id is not None:
        return await _release(session_factory, gateway, payment)
    if payment.intent_id is not None and not done["capture"]:
        captured = await gateway.capture(
            intent_id=payment.intent_id,
            amount_minor=min(owed, held),
            idempotency_key=f"{key}-capture",
        )
        if isinstance(captured, PaymentDeclined):
            return await _finish(
                session_factory, payment.id, PaymentStatus.FAILED, message=captured.message
            )
        if not isinstance(captured, Captured):
            return await _finish(session_factory, payment.id, payment.status, attempt=True)
        steps = [(LedgerKind.CAPTURE, "capture", captured.amount_minor)]
        if held > captured.amount_minor:
            steps.append((LedgerKind.RELEASE, "release", held - captured.amount_minor))
        await _step(session_factory, payment.id, steps)
    if owed > held and not payment.customer_id:
        # A guest (ad hoc) has no saved card to charge the rest to: the hold was the cap.
        message = f"{owed - held} {payment.currency} above the guest's hold was not collected"
        return await _finish(session_factory, payment.id, PaymentStatus.CAPTURED, message=message)
    if owed > held and not done["remainder"]:
        charged = await gateway.charge(
            customer_id=payment.customer_id,
            payment_method_id=payment.payment_method_id,
            amount_minor=owed - held,
            currency=payment.currency,
            idempotency_key=f"{key}-remainder",
            metadata={"payment_id": str(payment.id), "step": "remainder"},
        )
        if isinstance(charged, PaymentDeclined):
            return await _finish(
                session_factory, payment.id, PaymentStatus.FAILED, message=charged.message
            )
        if not isinstance(charged, Captured):
            return await _finish(session_factory, payment.id, payment.status, attempt=True)
        await _step(
            session_factory,
            payment.id,
            [
                (LedgerKind.AUTHORISATION, "remainder-authorisation", charged.amount_minor),
                (LedgerKind.CAPTURE, "remainder", charged.amount_minor),
            ],
            intent_id=charged.intent_id,
        )
        async with session_factory() as db:
            row = await db.get(Payment, payment.id)
            assert row is not None
            row.remainder_intent_id = charged.intent_id
            await db.commit()
    return await _finish(session_factory, payment.id, PaymentStatus.CAPTURED)


async def release_lost_hold(
    *, session_factory: SessionFactory, gateway: PaymentGateway, payment: Payment
) -> Payment:
    """A hold whose answer was lost (its START already failed): replay it, then release it.

    The replay reuses `payment-<id>-hold`, so Stripe answers with the intent of the first try.
    """
    assert payment.id is not None
    result = await gateway.place_hold(
        customer_id=payment.customer_id,
        payment_method_id=payment.payment_method_id,
        amount_minor=payment.hold_requested_minor,
        currency=payment.currency,
        idempotency_key=f"payment-{payment.id}-hold",
        metadata={"payment_id": str(payment.id)},
    )
    if isinstance(result, PaymentDeclined):
        return await _finish(session_factory, payment.id, PaymentStatus.DECLINED)
    if not isinstance(result, Authorised):
        return await _finish(session_factory, payment.id, payment.status, attempt=True)
    async with session_factory() as db:
        row = await db.get(Payment, payment.id)
        assert row is not None
        row.intent_id, row.authorised_minor = result.intent_id, result.amount_minor
        await record(db, row, LedgerKind.AUTHORISATION, "hold", result.amount_minor)
        await db.commit()
        await db.refresh(row)
    return await _release(session_factory, gateway, row)


async def settle_owed(
    *, session_factory: SessionFactory, gateway: PaymentGateway, now: datetime | None = None
) -> list[Payment]:
    """One reconciler pass: every capture owed, every hold of a start that never became a
    session, and every hold left without an answer."""
    at = now or datetime.now(UTC)
    async with session_factory() as db:
        owed = (
            await db.exec(
                select(Payment)
                .where(Payment.status == PaymentStatus.CAPTURE_PENDING)
                .order_by(col(Payment.id))
            )
        ).all()
        lost = (
            await db.exec(
                select(Payment)
                .join(RemoteCommand, col(RemoteCommand.id) == col(Payment.command_id))
                .where(Payment.status == PaymentStatus.HOLD_PENDING)
                .where(RemoteCommand.status == "FAILED")
                .where(col(Payment.created_at) < at - HOLD_REPLAY_AFTER)
            )
        ).all()
        unused = (
            await db.exec(
                select(Payment)
                .join(RemoteCommand, col(RemoteCommand.id) == col(Payment.command_id))
                .where(Payment.status == PaymentStatus.AUTHORISED)
                .where(col(RemoteCommand.status).in_(NO_SESSION))
            )
        ).all()
    settled = []
    for payment in owed:
        assert payment.id is not None
        settled.append(
            await settle_payment(
                session_factory=session_factory, gateway=gateway, payment_id=payment.id
            )
        )
    for payment in unused:
        settled.append(await _release(session_factory, gateway, payment))
    for payment in lost:
        settled.append(
            await release_lost_hold(
                session_factory=session_factory, gateway=gateway, payment=payment
            )
        )
    return settled
