"""Refunds at the service level: split over the hold's and the remainder's intents, and never
more than was captured when requests race."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlmodel import col, select

from app.db.engine import SessionFactory
from app.db.models import ChargingSession, Evse, Payment, PaymentLedgerEntry
from app.db.models.payment import LedgerKind, PaymentRefund, PaymentStatus, RefundStatus
from app.domain.enums import SessionStatus
from app.payments.gateway import StripeGateway
from app.services import refunds
from app.services.alerts import OperatorScope
from app.services.payments_settlement import settle_payment
from app.settings import Settings
from tests.factories import make_location, make_station
from tests.payments.builders import held_payment
from tests.payments.harness import LocalStripe
from tests.payments.operator import give, organisation
from tests.payments.proxy import StallingProxy


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[StripeGateway]:
    direct = StripeGateway(settings)
    yield direct
    await direct.close()


async def captured_session(
    session_factory: SessionFactory,
    gateway: StripeGateway,
    localstripe: LocalStripe,
    *,
    hold_minor: int,
    owed_minor: int,
) -> tuple[Payment, int, OperatorScope]:
    """A completed session at an organisation's location whose payment is CAPTURED."""
    location = await make_location(session_factory)
    org = await organisation(session_factory)
    await give(session_factory, org, location_id=location.id)
    station = await make_station(session_factory, location=location)
    payment = await held_payment(
        session_factory, gateway, localstripe, hold_minor=hold_minor, owed_minor=owed_minor
    )
    async with session_factory() as db:
        evse = (await db.exec(select(Evse).where(Evse.station_id == station.id))).one()
        assert evse.id is not None
        now = datetime.now(UTC)
        session = ChargingSession(
            station_id=station.id, evse_id=evse.id, transaction_id="tx-refund",
            status=SessionStatus.COMPLETED, started_at=now, ended_at=now,
        )  # fmt: skip
        db.add(session)
        await db.flush()
        row = await db.get(Payment, payment.id)
        assert row is not None
        row.session_id = session.id
        await db.commit()
        assert session.id is not None
        session_id = session.id
    assert payment.id is not None
    settled = await settle_payment(
        session_factory=session_factory, gateway=gateway, payment_id=payment.id
    )
    assert (settled.status, settled.captured_minor) == (PaymentStatus.CAPTURED, owed_minor)
    return settled, session_id, OperatorScope(operator_id=org.id)


async def test_a_refund_spans_the_hold_and_the_remainder(
    session_factory: SessionFactory, gateway: StripeGateway, localstripe: LocalStripe
) -> None:
    payment, session_id, scope = await captured_session(
        session_factory, gateway, localstripe, hold_minor=1000, owed_minor=1500
    )
    refund = await refunds.refund_session(
        session_factory=session_factory, gateway=gateway, scope=scope, actor="test",
        session_id=session_id, amount_minor=1200, reason="overcharged", request_key="k1",
    )  # fmt: skip
    assert (refund.status, refund.amount_minor) == (RefundStatus.SUCCEEDED, 1200)
    assert len(refund.stripe_refund_ids.split(",")) == 2
    async with session_factory() as db:
        entries = (
            await db.exec(
                select(PaymentLedgerEntry)
                .where(PaymentLedgerEntry.kind == LedgerKind.REFUND)
                .order_by(col(PaymentLedgerEntry.id))
            )
        ).all()
    assert [(e.intent_id, e.amount_minor) for e in entries] == [
        (payment.intent_id, 1000), (payment.remainder_intent_id, 200),
    ]  # fmt: skip
    assert payment.intent_id is not None
    assert payment.remainder_intent_id is not None
    hold_charge = (await localstripe.intent(payment.intent_id)).latest_charge
    rest_charge = (await localstripe.intent(payment.remainder_intent_id)).latest_charge
    assert (hold_charge.amount_refunded, rest_charge.amount_refunded) == (1000, 200)


async def test_racing_refunds_never_return_more_than_was_captured(
    session_factory: SessionFactory, gateway: StripeGateway, localstripe: LocalStripe
) -> None:
    payment, session_id, scope = await captured_session(
        session_factory, gateway, localstripe, hold_minor=2000, owed_minor=800
    )

    async def refund(key: str) -> object:
        try:
            return await refunds.refund_session(
                session_factory=session_factory, gateway=gateway, scope=scope, actor="test",
                session_id=session_id, amount_minor=800, reason="race", request_key=key,
            )  # fmt: skip
        except Exception as exc:  # the loser: refused, or (SQLite) a write conflict
            return exc

    async with asyncio.timeout(20):
        results = await asyncio.gather(*(refund(f"race-{n}") for n in range(3)))
    done = [r for r in results if isinstance(r, PaymentRefund)]
    assert [r.status for r in done] == [RefundStatus.SUCCEEDED]
    assert all(
        isinstance(r, PaymentRefund | refunds.NothingToRefund) or "lock" in str(r).lower()
        for r in results
    ), results
    async with session_factory() as db:
        rows = (await db.exec(select(PaymentRefund))).all()
    assert sum(r.amount_minor for r in rows) == 800
    assert payment.intent_id is not None
    charge = (await localstripe.intent(payment.intent_id)).latest_charge
    # localstripe books the released 1200 of the hold as refunded too: 1200 + our 800.
    assert charge.amount_refunded == 2000


async def test_a_refund_whose_answer_is_lost_is_found_by_the_retry_not_made_twice(
    settings: Settings,
    session_factory: SessionFactory,
    gateway: StripeGateway,
    localstripe: LocalStripe,
) -> None:
    payment, session_id, scope = await captured_session(
        session_factory, gateway, localstripe, hold_minor=1000, owed_minor=1000
    )
    assert payment.intent_id is not None
    # No SDK retry: the first attempt's answer is simply lost (timeout), outcome unknown.
    async with StallingProxy(localstripe.url, path_suffix="/v1/refunds").running() as proxy:
        proxied = StripeGateway(
            settings.model_copy(
                update={"stripe_api_base": proxy.url, "stripe_max_network_retries": 0}
            )
        )
        try:
            async with asyncio.timeout(30):
                first = await refunds.refund_session(
                    session_factory=session_factory, gateway=proxied, scope=scope,
                    actor="test", session_id=session_id, amount_minor=400, reason="lost",
                    request_key="lost-1",
                )  # fmt: skip
        finally:
            await proxied.close()
    assert first.status == RefundStatus.PENDING  # Stripe refunded; we do not know it yet
    assert (await localstripe.intent(payment.intent_id)).latest_charge.amount_refunded == 400
    async with asyncio.timeout(20):
        (retried,) = await refunds.retry_pending_refunds(
            session_factory=session_factory, gateway=gateway
        )
        again = await refunds.retry_pending_refunds(
            session_factory=session_factory, gateway=gateway
        )
    assert (retried.status, again) == (RefundStatus.SUCCEEDED, [])
    assert proxy.keys == [f"refund-{first.id}-{payment.intent_id}"]
    charge = (await localstripe.intent(payment.intent_id)).latest_charge
    assert charge.amount_refunded == 400  # once
    async with session_factory() as db:
        booked = (
            await db.exec(
                select(PaymentLedgerEntry).where(PaymentLedgerEntry.kind == LedgerKind.REFUND)
            )
        ).all()
    assert [e.amount_minor for e in booked] == [400]
