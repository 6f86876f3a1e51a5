"""`POST /stripe/webhook`: only Stripe-signed events change anything, each applied once."""

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlmodel import func, select
from starlette.applications import Starlette

from app.db.engine import SessionFactory
from app.db.models import PaymentLedgerEntry, StripeEvent
from app.db.models.payment import Payment, PaymentStatus
from app.main import Runtime
from tests.payments.builders import held_payment
from tests.payments.harness import LocalStripe, signed_event


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def authorised(app: Starlette, localstripe: LocalStripe) -> Payment:
    runtime: Runtime = app.state.runtime
    assert runtime.payments is not None
    return await held_payment(runtime.session_factory, runtime.payments, localstripe)


async def state(factory: SessionFactory, payment_id: int) -> tuple[str, int, int]:
    """(status, ledger rows, events recorded)"""
    async with factory() as db:
        payment = await db.get(Payment, payment_id)
        assert payment is not None
        entries = (
            await db.exec(select(func.count()).where(PaymentLedgerEntry.payment_id == payment_id))
        ).one()
        events = (await db.exec(select(func.count()).select_from(StripeEvent))).one()
    return payment.status.value, entries, events


def canceled(payment: Payment) -> dict[str, object]:
    return {"id": payment.intent_id, "object": "payment_intent", "status": "canceled",
            "amount": 5000, "metadata": {"payment_id": str(payment.id)}}  # fmt: skip


@pytest.mark.parametrize(
    "signature",
    [None, "t=1,v1=00", "garbage", "resign"],
    ids=["missing", "wrong-digest", "malformed", "other-secret"],
)
async def test_a_webhook_without_a_valid_signature_is_refused_and_changes_nothing(
    app: Starlette, http: httpx.AsyncClient, localstripe: LocalStripe, signature: str | None
) -> None:
    payment = await authorised(app, localstripe)
    assert payment.id is not None
    body, good = signed_event("payment_intent.canceled", canceled(payment), event_id="evt_bad")
    if signature == "resign":  # signed, but with a secret that is not ours
        import hashlib
        import hmac

        timestamp = good.split(",")[0].removeprefix("t=")
        digest = hmac.new(b"whsec_other", f"{timestamp}.".encode() + body, hashlib.sha256)
        signature = f"t={timestamp},v1={digest.hexdigest()}"
    headers = {"stripe-signature": signature} if signature is not None else {}
    before = await state(app.state.runtime.session_factory, payment.id)
    response = await http.post("/stripe/webhook", content=body, headers=headers)
    assert response.status_code == 400
    assert await state(app.state.runtime.session_factory, payment.id) == before
    assert before == ("AUTHORISED", 1, 0)


async def test_a_webhook_delivered_twice_is_applied_once(
    app: Starlette, http: httpx.AsyncClient, localstripe: LocalStripe
) -> None:
    payment = await authorised(app, localstripe)
    assert payment.id is not None
    body, signature = signed_event(
        "payment_intent.canceled", canceled(payment), event_id="evt_twice"
    )
    answers = []
    for _ in range(2):
        response = await http.post(
            "/stripe/webhook", content=body, headers={"stripe-signature": signature}
        )
        assert response.status_code == 200
        answers.append(response.json()["applied"])
    assert answers == [True, False]
    # Released once: the hold's authorisation and one release, one event recorded.
    assert await state(app.state.runtime.session_factory, payment.id) == ("RELEASED", 2, 1)


async def test_an_unknown_event_type_is_acknowledged_and_ignored(
    app: Starlette, http: httpx.AsyncClient, localstripe: LocalStripe
) -> None:
    payment = await authorised(app, localstripe)
    assert payment.id is not None
    data = {**canceled(payment), "object": "invoice"}
    body, signature = signed_event("invoice.finalized", data, event_id="evt_unknown")
    response = await http.post(
        "/stripe/webhook", content=body, headers={"stripe-signature": signature}
    )
    assert (response.status_code, response.json()["applied"]) == (200, True)
    assert await state(app.state.runtime.session_factory, payment.id) == ("AUTHORISED", 1, 1)


async def test_a_saved_card_becomes_the_default_when_the_driver_has_none(
    app: Starlette, http: httpx.AsyncClient, localstripe: LocalStripe
) -> None:
    from app.db.models import StripeCustomer

    payment = await authorised(app, localstripe)
    setup = {
        "id": "seti_1",
        "object": "setup_intent",
        "status": "succeeded",
        "customer": payment.customer_id,
        "payment_method": payment.payment_method_id,
    }
    body, signature = signed_event("setup_intent.succeeded", setup, event_id="evt_setup")
    response = await http.post(
        "/stripe/webhook", content=body, headers={"stripe-signature": signature}
    )
    assert response.status_code == 200
    async with app.state.runtime.session_factory() as db:
        customer = await db.get(StripeCustomer, payment.driver_id)
    assert customer is not None
    assert customer.default_payment_method_id == payment.payment_method_id
    assert payment.id is not None
    status, _, _ = await state(app.state.runtime.session_factory, payment.id)
    assert status == PaymentStatus.AUTHORISED
