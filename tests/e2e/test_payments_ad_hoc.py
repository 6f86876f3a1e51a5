"""Ad-hoc payment without an account (EU AFIR): a guest pays by card at a charger, the charger
starts once Stripe holds the money (read from Stripe, never from the browser), the session is
paid from the hold, and the receipt is reachable by its token; unstarted holds are cancelled."""

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import select

from app.db.models import AdHocPayment, IdToken, Payment
from app.db.models.payment import PaymentStatus
from app.services.adhoc_payments import expire_ad_hoc
from app.settings import Settings
from app.simulator import SimulatedStation
from tests.conftest import LiveServer
from tests.e2e.test_driver_journey import provision, requested_start
from tests.e2e.test_payments import evse_of, reconciler
from tests.payments.harness import (
    LocalStripe,
    localstripe,
    localstripe_url,
    signed_event,
    with_payments,
)

__all__ = ["localstripe", "localstripe_url"]

pytestmark = pytest.mark.e2e

CREATE = """
mutation($input: CreateAdHocPaymentInput!) { createAdHocPayment(input: $input) { __typename
  ... on AdHocPaymentCreated { paymentIntentId clientSecret receiptToken amountMinor currency }
  ... on EvseNotFound { message } ... on InvalidAdHocPayment { message } } }
"""
FIELDS = "status heldMinor currency energyWh costInclVatMinor capturedMinor startedAt endedAt"
CONFIRM = f"""
mutation($token: String!) {{ confirmAdHocPayment(input: {{receiptToken: $token}}) {{ {FIELDS} }} }}
"""
SESSION = f"query($token: String!) {{ adHocSession(receiptToken: $token) {{ {FIELDS} }} }}"


@pytest.fixture
def settings(settings: Settings, localstripe_url: str) -> Settings:
    return with_payments(settings, localstripe_url)


async def guest(server: LiveServer, query: str, **variables: Any) -> dict[str, Any]:
    """A browser without any account or key."""
    async with httpx.AsyncClient(base_url=server.http_url, timeout=10) as http:
        response = await http.post("/graphql", json={"query": query, "variables": variables})
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]


async def checkout(server: LiveServer, charger: SimulatedStation, **input: Any) -> dict[str, Any]:
    created = (
        await guest(server, CREATE, input={"evseId": await evse_of(server, charger), **input})
    )["createAdHocPayment"]
    assert created["__typename"] == "AdHocPaymentCreated", created
    return created


async def charge_and_stop(charger: SimulatedStation) -> None:
    request = await requested_start(charger)
    await charger.start_transaction(1, request.token, remote_start_id=request.remote_start_id)
    for _ in range(2):
        await charger.send_meter_values(1)
    await charger.stop_transaction(1)


@pytest.mark.parametrize("protocol", ["1.6", "2.0.1"], ids=["ocpp16", "ocpp201"])
async def test_a_guest_pays_the_charger_starts_and_the_receipt_shows_what_was_taken(
    live_server: LiveServer, localstripe: LocalStripe, protocol: str
) -> None:
    charger = await provision(live_server, protocol)
    async with charger.connect():
        assert await charger.boot() == "Accepted"
        await charger.send_status(1, "Available")
        created = await checkout(live_server, charger, amountMinor=3000, email="g@example.org")
        assert (created["amountMinor"], created["currency"]) == (3000, "EUR")
        token = created["receiptToken"]
        intent = await localstripe.intent(created["paymentIntentId"])
        assert (intent.capture_method, intent.amount, intent.customer) == ("manual", 3000, None)
        assert created["clientSecret"].startswith(intent.id)

        # The browser claims success before the card is confirmed: Stripe says otherwise.
        early = (await guest(live_server, CONFIRM, token=token))["confirmAdHocPayment"]
        assert early["status"] == "AWAITING_PAYMENT"
        assert charger.evses[1].start_requests == []

        # Stripe.js confirms the card: the hold is in place; the page tells us.
        await localstripe.confirm_guest_card(intent.id, "pm_card_visa")
        starting = (await guest(live_server, CONFIRM, token=token))["confirmAdHocPayment"]
        assert (starting["status"], starting["heldMinor"]) == ("STARTING", 3000)
        again = (await guest(live_server, CONFIRM, token=token))["confirmAdHocPayment"]
        assert again["status"] in ("STARTING", "CHARGING")  # never a second start
        await charge_and_stop(charger)
        assert charger.evses[1].start_requests == []

    done = (await guest(live_server, SESSION, token=token))["adHocSession"]
    assert done["status"] == "COMPLETED"
    assert 0 < done["costInclVatMinor"] < 3000
    async with asyncio.timeout(15):
        await reconciler(live_server).next_pass()
    receipt = (await guest(live_server, SESSION, token=token))["adHocSession"]
    assert receipt["capturedMinor"] == done["costInclVatMinor"]
    settled = await localstripe.intent(intent.id)
    assert settled.status == "succeeded"
    assert (
        settled.latest_charge.amount - settled.latest_charge.amount_refunded
        == (done["costInclVatMinor"])
    )
    async with live_server.runtime.session_factory() as db:
        (row,) = (await db.exec(select(AdHocPayment))).all()
        (payment,) = (await db.exec(select(Payment))).all()
        token_row = (await db.exec(select(IdToken).where(IdToken.uid == row.id_token_uid))).one()
    assert row.receipt_token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in (row.receipt_token_hash, row.id_token_uid)
    assert (payment.driver_id, payment.status) == (None, PaymentStatus.CAPTURED)
    assert token_row.driver_id is None
    # Valid for the start only: a charger that cached it cannot start an unpaid session later.
    window = timedelta(seconds=live_server.runtime.settings.remote_command_window_s + 120)
    assert token_row.expires_at is not None
    assert token_row.expires_at - row.created_at < window
    assert (await guest(live_server, SESSION, token=token + "x"))["adHocSession"] is None


async def test_stripes_webhook_starts_the_charger_without_the_guests_page(
    live_server: LiveServer, localstripe: LocalStripe
) -> None:
    charger = await provision(live_server, "2.0.1")
    async with charger.connect():
        assert await charger.boot() == "Accepted"
        await charger.send_status(1, "Available")
        created = await checkout(live_server, charger)
        assert created["amountMinor"] == 5000  # the network default
        intent = await localstripe.confirm_guest_card(created["paymentIntentId"], "pm_card_visa")
        body, signature = signed_event(
            "payment_intent.amount_capturable_updated",
            {"id": intent.id, "object": "payment_intent", "amount": intent.amount,
             "amount_capturable": intent.amount, "metadata": intent.metadata.to_dict()},
            event_id="evt_guest_1",
        )  # fmt: skip
        async with httpx.AsyncClient(base_url=live_server.http_url, timeout=10) as http:
            for _ in range(2):  # delivered twice: applied (and started) once
                response = await http.post(
                    "/stripe/webhook", content=body, headers={"Stripe-Signature": signature}
                )
                assert response.status_code == 200
        await charge_and_stop(charger)
        assert charger.evses[1].start_requests == []
    status = (await guest(live_server, SESSION, token=created["receiptToken"]))["adHocSession"]
    assert status["status"] == "COMPLETED"


async def test_an_authorised_guest_payment_that_never_starts_is_cancelled(
    live_server: LiveServer, localstripe: LocalStripe
) -> None:
    charger = await provision(live_server, "2.0.1")
    async with charger.connect():
        assert await charger.boot() == "Accepted"
        await charger.send_status(1, "Available")
        created = await checkout(live_server, charger, amountMinor=2000)
    await localstripe.confirm_guest_card(created["paymentIntentId"], "pm_card_visa")
    gateway = live_server.runtime.payments
    assert gateway is not None
    factory = live_server.runtime.session_factory
    assert await expire_ad_hoc(session_factory=factory, gateway=gateway) == []  # not yet
    later = datetime.now(UTC) + timedelta(seconds=live_server.runtime.settings.payment_ad_hoc_ttl_s)
    (expired,) = await expire_ad_hoc(session_factory=factory, gateway=gateway, now=later)
    assert (await localstripe.intent(expired.intent_id)).status == "canceled"
    token = created["receiptToken"]
    status = (await guest(live_server, CONFIRM, token=token))["confirmAdHocPayment"]
    assert (status["status"], status["heldMinor"]) == ("EXPIRED", 0)  # too late: no start
    assert charger.evses[1].start_requests == []


@pytest.mark.parametrize(
    ("input", "typename", "named"),
    [
        ({"evseId": "RXZzZTo5OTk5OQ=="}, "EvseNotFound", "RXZzZTo5OTk5OQ=="),
        ({"amountMinor": 50}, "InvalidAdHocPayment", "50"),
        ({"email": "not-an-address"}, "InvalidAdHocPayment", "not-an-address"),
    ],
    ids=["unknown-evse", "amount-too-small", "bad-email"],
)
async def test_bad_guest_input_is_refused_before_stripe_is_asked(
    live_server: LiveServer,
    localstripe: LocalStripe,
    input: dict[str, Any],
    typename: str,
    named: str,
) -> None:
    charger = await provision(live_server, "2.0.1")
    variables = {"evseId": await evse_of(live_server, charger), **input}
    result = (await guest(live_server, CREATE, input=variables))["createAdHocPayment"]
    assert result["__typename"] == typename
    assert named in result["message"]
    assert await localstripe.intents() == []
