"""Builders for payment tests: a driver with a real hold in localstripe, as a payment row."""

import itertools

from app.db.engine import SessionFactory
from app.db.models import Driver
from app.db.models.payment import LedgerKind, Payment, PaymentStatus
from app.payments.gateway import StripeGateway
from app.services.payments import ensure_customer
from app.services.payments_ledger import record
from app.services.payments_results import Authorised
from tests.payments.harness import LocalStripe

_counter = itertools.count(1)


async def held_payment(
    session_factory: SessionFactory,
    gateway: StripeGateway,
    localstripe: LocalStripe,
    *,
    hold_minor: int = 5000,
    owed_minor: int | None = None,
    card: str = "pm_card_visa",
) -> Payment:
    """A payment AUTHORISED in localstripe; with `owed_minor`, CAPTURE_PENDING as a session
    end leaves it (the CDR written, the capture not yet made)."""
    async with session_factory() as db:
        driver = Driver(email=f"holder{next(_counter)}@example.org", password_hash="-")
        db.add(driver)
        await db.commit()
        await db.refresh(driver)
    assert driver.id is not None
    customer = await ensure_customer(
        session_factory=session_factory, gateway=gateway, driver_id=driver.id
    )
    method = await localstripe.client.v1.payment_methods.attach_async(
        card, params={"customer": customer.customer_id}
    )
    async with session_factory() as db:
        payment = Payment(
            driver_id=driver.id,
            status=PaymentStatus.HOLD_PENDING,
            currency="EUR",
            customer_id=customer.customer_id,
            payment_method_id=method.id,
            hold_requested_minor=hold_minor,
        )
        db.add(payment)
        await db.commit()
        await db.refresh(payment)
    held = await gateway.place_hold(
        customer_id=customer.customer_id,
        payment_method_id=method.id,
        amount_minor=hold_minor,
        currency="EUR",
        idempotency_key=f"payment-{payment.id}-hold",
        metadata={"payment_id": str(payment.id)},
    )
    assert isinstance(held, Authorised), held
    async with session_factory() as db:
        row = await db.get(Payment, payment.id)
        assert row is not None
        row.intent_id, row.authorised_minor = held.intent_id, held.amount_minor
        row.status = PaymentStatus.AUTHORISED
        if owed_minor is not None:
            row.status, row.amount_to_capture_minor = PaymentStatus.CAPTURE_PENDING, owed_minor
        await record(db, row, LedgerKind.AUTHORISATION, "hold", held.amount_minor)
        await db.commit()
        await db.refresh(row)
        return row
