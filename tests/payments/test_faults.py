"""Faults around the capture: a lost answer, a crash between "ended" and "captured", and a
provider that ignores Idempotency-Key. Money must be captured exactly once in each."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from app.db.engine import SessionFactory
from app.db.models import PaymentLedgerEntry
from app.db.models.payment import LedgerKind, Payment, PaymentStatus
from app.payments.gateway import StripeGateway
from app.services.payments_ledger import LedgerViolation, record
from app.services.payments_results import Captured
from app.services.payments_settlement import settle_payment
from app.settings import Settings
from tests.conftest import running
from tests.payments.builders import held_payment
from tests.payments.harness import LocalStripe
from tests.payments.proxy import StallingProxy


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[StripeGateway]:
    direct = StripeGateway(settings)
    yield direct
    await direct.close()


async def ledger(session_factory: SessionFactory, payment_id: int) -> list[tuple[str, int]]:
    async with session_factory() as db:
        rows = (
            await db.exec(
                select(PaymentLedgerEntry).where(PaymentLedgerEntry.payment_id == payment_id)
            )
        ).all()
    return sorted((row.kind.value, row.amount_minor) for row in rows)


async def money_taken(localstripe: LocalStripe, intent_id: str) -> int:
    """What localstripe captured (it books the released rest as a refund)."""
    charge = (await localstripe.intent(intent_id)).latest_charge
    assert charge.captured
    return int(charge.amount - charge.amount_refunded)


async def test_a_capture_whose_answer_is_lost_is_retried_and_captured_once(
    settings: Settings,
    session_factory: SessionFactory,
    gateway: StripeGateway,
    localstripe: LocalStripe,
) -> None:
    payment = await held_payment(session_factory, gateway, localstripe, owed_minor=1234)
    assert payment.id is not None
    assert payment.intent_id is not None
    async with StallingProxy(localstripe.url).running() as proxy:
        proxied = StripeGateway(settings.model_copy(update={"stripe_api_base": proxy.url}))
        try:
            async with asyncio.timeout(30):
                settled = await settle_payment(
                    session_factory=session_factory, gateway=proxied, payment_id=payment.id
                )
                # The reconciler's next pass finds nothing left to do.
                again = await settle_payment(
                    session_factory=session_factory, gateway=proxied, payment_id=payment.id
                )
        finally:
            await proxied.close()
    # The SDK timed out and retried with the same key; nothing else asked for a capture.
    assert proxy.keys == [f"payment-{payment.id}-capture"] * 2
    assert (settled.status, settled.captured_minor) == (PaymentStatus.CAPTURED, 1234)
    assert (again.status, again.captured_minor) == (PaymentStatus.CAPTURED, 1234)
    assert await ledger(session_factory, payment.id) == [
        ("AUTHORISATION", 5000), ("CAPTURE", 1234), ("RELEASE", 3766),
    ]  # fmt: skip
    assert await money_taken(localstripe, payment.intent_id) == 1234


async def test_a_restarted_server_captures_what_a_crash_left_owed_exactly_once(
    settings: Settings,
    engine: AsyncEngine,
    session_factory: SessionFactory,
    gateway: StripeGateway,
    localstripe: LocalStripe,
) -> None:
    """The first server wrote the CDR and CAPTURE_PENDING, then died before capturing."""
    from app.main import create_app

    payment = await held_payment(session_factory, gateway, localstripe, owed_minor=2100)
    assert payment.id is not None
    assert payment.intent_id is not None
    for _ in range(2):  # a restart, and another one: the second finds nothing owed
        async with running(create_app(settings)) as runtime, asyncio.timeout(15):
            assert runtime.reconciler is not None
            await runtime.reconciler.next_pass()
    async with session_factory() as db:
        settled = await db.get(Payment, payment.id)
    assert settled is not None
    assert (settled.status, settled.captured_minor) == (PaymentStatus.CAPTURED, 2100)
    assert await ledger(session_factory, payment.id) == [
        ("AUTHORISATION", 5000), ("CAPTURE", 2100), ("RELEASE", 2900),
    ]  # fmt: skip
    assert await money_taken(localstripe, payment.intent_id) == 2100


async def test_the_ledger_not_the_provider_prevents_a_second_capture(
    session_factory: SessionFactory, gateway: StripeGateway, localstripe: LocalStripe
) -> None:
    """Gap: localstripe ignores Idempotency-Key (Stripe replays the first answer). Here a
    replayed capture reaches it as a new request; the backend must still book one capture and
    never more than the hold, whatever the provider answers."""
    payment = await held_payment(session_factory, gateway, localstripe, owed_minor=800)
    assert payment.id is not None
    assert payment.intent_id is not None
    key = f"payment-{payment.id}-capture"
    first = await gateway.capture(
        intent_id=payment.intent_id, amount_minor=800, idempotency_key=key
    )
    replay = await gateway.capture(
        intent_id=payment.intent_id, amount_minor=800, idempotency_key=key
    )
    assert first == replay == Captured(intent_id=payment.intent_id, amount_minor=800)
    settled = await settle_payment(
        session_factory=session_factory, gateway=gateway, payment_id=payment.id
    )
    assert (settled.status, settled.captured_minor) == (PaymentStatus.CAPTURED, 800)
    assert await money_taken(localstripe, payment.intent_id) == 800
    async with session_factory() as db:
        row = await db.get(Payment, payment.id)
        assert row is not None
        twice = await record(db, row, LedgerKind.CAPTURE, "capture", 800)  # the same step
        assert twice.amount_minor == 800
        with pytest.raises(LedgerViolation, match="exceed 5000 authorised"):
            await record(db, row, LedgerKind.CAPTURE, "capture-again", 4201)
        with pytest.raises(LedgerViolation, match="refunded would exceed 800 captured"):
            await record(db, row, LedgerKind.REFUND, "refund-1", 801)
    assert await ledger(session_factory, payment.id) == [
        ("AUTHORISATION", 5000), ("CAPTURE", 800), ("RELEASE", 4200),
    ]  # fmt: skip
