"""Paying for a session end to end: a driver saves a card, a hold is placed in (local)Stripe
before the charger is asked to start, and when the session ends exactly the receipt's total is
captured and the rest released; a declined card never reaches the charger; a session that
costs nothing cancels its hold; a price above the hold charges the remainder."""

import asyncio
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select

from app.db.models import Payment, PaymentLedgerEntry
from app.db.models.payment import LedgerKind, PaymentStatus
from app.payments.reconciler import PaymentReconciler
from app.services.tariffs import assign_tariff, create_tariff
from app.settings import Settings
from app.simulator import SimulatedStation
from tests.conftest import LiveServer
from tests.e2e.test_driver_journey import (
    RECEIPT,
    SIGN_UP,
    STOP,
    Api,
    provision,
    requested_start,
)
from tests.payments.harness import LocalStripe, localstripe, localstripe_url, with_payments

__all__ = ["localstripe", "localstripe_url"]

pytestmark = pytest.mark.e2e

ADD_METHOD = """
mutation { addPaymentMethod { __typename
  ... on PaymentMethodSetup { setupIntentId clientSecret }
  ... on PaymentsUnavailable { message } } }
"""
METHODS = "query { me { paymentMethods { id brand last4 wallet expMonth expYear isDefault } } }"
START_WITH = """
mutation($input: StartSessionInput!) {
  startSession(input: $input) { __typename
    ... on CommandPayload { commandId status } ... on PaymentDeclined { message } }
}"""


@pytest.fixture
def settings(settings: Settings, localstripe_url: str) -> Settings:
    return with_payments(settings, localstripe_url)


def reconciler(server: LiveServer) -> PaymentReconciler:
    found = server.runtime.reconciler
    assert found is not None, "payments are configured: the app must own a reconciler"
    return found


async def driver_with_card(api: Api, stripe: LocalStripe, card: str) -> str:
    """Sign up, save `card` the way the app does (SetupIntent confirmed by Stripe's SDK)."""
    signed = await api.call(
        SIGN_UP, input={"email": "payer@example.org", "password": "correct horse 1", "name": "P"}
    )
    api.headers = {"Authorization": f"Bearer {signed['signUp']['accessToken']}"}
    setup = (await api.call(ADD_METHOD))["addPaymentMethod"]
    assert setup["__typename"] == "PaymentMethodSetup", setup
    assert setup["clientSecret"].startswith(setup["setupIntentId"])
    return await stripe.confirm_setup(setup["setupIntentId"], card)


async def charge_once(
    api: Api, charger: SimulatedStation, evse_id: str, *, meter_values: int
) -> dict[str, Any]:
    """Start (the hold is placed first), charge, stop; answers the startSession result."""
    started = (await api.call(START_WITH, input={"evseId": evse_id, "clientMutationId": "pay-1"}))[
        "startSession"
    ]
    if started["__typename"] != "CommandPayload":
        return started
    request = await requested_start(charger)
    await charger.start_transaction(1, request.token, remote_start_id=request.remote_start_id)
    accepted = await api.final_command_status(started["commandId"])
    assert accepted["status"] == "ACCEPTED"
    for _ in range(meter_values):
        await charger.send_meter_values(1)
    stop_input = {"sessionId": accepted["session"]["id"], "clientMutationId": "pay-stop"}
    stopped = (await api.call(STOP, input=stop_input))["stopSession"]
    assert (await api.final_command_status(stopped["commandId"]))["status"] == "ACCEPTED"
    return {**started, "sessionId": accepted["session"]["id"]}


async def payment_and_ledger(server: LiveServer) -> tuple[Payment, dict[LedgerKind, int]]:
    async with server.runtime.session_factory() as db:
        (payment,) = (await db.exec(select(Payment))).all()
        entries = (
            await db.exec(select(PaymentLedgerEntry).order_by(col(PaymentLedgerEntry.id)))
        ).all()
    sums = {kind: sum(e.amount_minor for e in entries if e.kind == kind) for kind in LedgerKind}
    return payment, sums


async def evse_of(server: LiveServer, charger: SimulatedStation) -> str:
    from app.db.models import Evse
    from tests.graphql.conftest import global_id

    async with server.runtime.session_factory() as db:
        evse = (await db.exec(select(Evse).where(Evse.station_id == charger.station_id))).one()
    return global_id("Evse", evse.id)


@pytest.mark.parametrize("protocol", ["1.6", "2.0.1"], ids=["ocpp16", "ocpp201"])
async def test_the_receipt_total_is_captured_and_the_rest_of_the_hold_released(
    live_server: LiveServer, localstripe: LocalStripe, protocol: str
) -> None:
    charger = await provision(live_server, protocol)
    api = Api(live_server)
    method_id = await driver_with_card(api, localstripe, "pm_card_visa")
    (saved,) = (await api.call(METHODS))["me"]["paymentMethods"]
    assert saved == {
        "id": method_id, "brand": "visa", "last4": "4242", "wallet": None,
        "expMonth": 12, "expYear": 2030, "isDefault": True,
    }  # fmt: skip

    async with charger.connect():
        assert await charger.boot() == "Accepted"
        await charger.send_status(1, "Available")
        evse_id = await evse_of(live_server, charger)
        started = (
            await api.call(START_WITH, input={"evseId": evse_id, "clientMutationId": "pay-1"})
        )["startSession"]
        assert started["__typename"] == "CommandPayload"
        # The hold is in Stripe before the charger was asked to start.
        (held,) = await localstripe.intents()
        assert (held.status, held.amount, held.capture_method) == (
            "requires_capture",
            5000,
            "manual",
        )
        assert held.payment_method == method_id
        request = await requested_start(charger)
        await charger.start_transaction(1, request.token, remote_start_id=request.remote_start_id)
        accepted = await api.final_command_status(started["commandId"])
        for _ in range(3):
            await charger.send_meter_values(1)
        stop_input = {"sessionId": accepted["session"]["id"], "clientMutationId": "pay-stop"}
        stopped = (await api.call(STOP, input=stop_input))["stopSession"]
        assert (await api.final_command_status(stopped["commandId"]))["status"] == "ACCEPTED"

    payment, _ = await payment_and_ledger(live_server)
    assert payment.status == PaymentStatus.CAPTURE_PENDING  # durable with the CDR
    async with asyncio.timeout(15):
        await reconciler(live_server).next_pass()

    receipt = (await api.call(RECEIPT, id=accepted["session"]["id"]))["receipt"]
    total = receipt["totalInclVat"]["amountMinor"]
    assert 0 < total < 5000
    payment, sums = await payment_and_ledger(live_server)
    assert (payment.status, payment.captured_minor) == (PaymentStatus.CAPTURED, total)
    assert sums == {
        LedgerKind.AUTHORISATION: 5000, LedgerKind.CAPTURE: total,
        LedgerKind.RELEASE: 5000 - total, LedgerKind.REFUND: 0,
    }  # fmt: skip
    intent = await localstripe.intent(held.id)
    assert intent.status == "succeeded"
    # localstripe books the released part of a partial capture as a refund on the charge.
    assert intent.latest_charge.amount - intent.latest_charge.amount_refunded == total


async def test_a_declined_card_never_starts_the_charger(
    live_server: LiveServer, localstripe: LocalStripe
) -> None:
    charger = await provision(live_server, "2.0.1")
    api = Api(live_server)
    await driver_with_card(api, localstripe, "pm_card_chargeCustomerFail")
    async with charger.connect():
        assert await charger.boot() == "Accepted"
        await charger.send_status(1, "Available")
        evse_id = await evse_of(live_server, charger)
        result = await charge_once(api, charger, evse_id, meter_values=0)
        assert result["__typename"] == "PaymentDeclined", result
        assert "declined" in result["message"].lower()
        # The EVSE is not held by the refused start: a retry with a new id is refused the same
        # way (not OCCUPIED), and the charger never saw a start frame.
        again = (
            await api.call(START_WITH, input={"evseId": evse_id, "clientMutationId": "pay-2"})
        )["startSession"]
        assert again["__typename"] == "PaymentDeclined"
        assert charger.evses[1].start_requests == []
    payments = []
    async with live_server.runtime.session_factory() as db:
        payments = list((await db.exec(select(Payment))).all())
    assert [p.status for p in payments] == [PaymentStatus.DECLINED] * 2
    assert all(p.authorised_minor == 0 for p in payments)


async def test_a_session_that_costs_nothing_cancels_its_hold(
    live_server: LiveServer, localstripe: LocalStripe
) -> None:
    charger = await provision(live_server, "1.6")
    factory = live_server.runtime.session_factory
    energy_only = await create_tariff(
        session_factory=factory,
        currency="EUR",
        elements=[{"price_components": [{"type": "ENERGY", "price": "0.39", "step_size": 1}]}],
        vat_percent="21",
    )
    await assign_tariff(
        session_factory=factory, tariff_id=energy_only.id, station_ids=[charger.station_id]
    )
    api = Api(live_server)
    await driver_with_card(api, localstripe, "pm_card_visa")
    charger.apply_limit(1, 0)  # the car draws nothing: a zero-energy session
    async with charger.connect():
        assert await charger.boot() == "Accepted"
        await charger.send_status(1, "Available")
        result = await charge_once(
            api, charger, await evse_of(live_server, charger), meter_values=1
        )
    receipt = (await api.call(RECEIPT, id=result["sessionId"]))["receipt"]
    assert (receipt["energyWh"], receipt["totalInclVat"]["amountMinor"]) == (0, 0)
    async with asyncio.timeout(15):
        await reconciler(live_server).next_pass()
    payment, sums = await payment_and_ledger(live_server)
    assert payment.status == PaymentStatus.RELEASED
    assert sums[LedgerKind.CAPTURE] == 0
    assert sums[LedgerKind.RELEASE] == sums[LedgerKind.AUTHORISATION] == 5000
    assert payment.intent_id is not None
    assert (await localstripe.intent(payment.intent_id)).status == "canceled"


@pytest.mark.parametrize("hold_minor", [100], ids=["hold-1-eur"])
async def test_a_price_above_the_hold_captures_it_and_charges_the_remainder(
    settings: Settings,
    engine: AsyncEngine,
    localstripe_url: str,
    localstripe: LocalStripe,
    hold_minor: int,
) -> None:
    from app.main import create_app
    from tests.conftest import serve

    async with serve(
        create_app(with_payments(settings, localstripe_url, payment_hold_amount_minor=hold_minor))
    ) as server:
        charger = await provision(server, "2.0.1")
        api = Api(server)
        await driver_with_card(api, localstripe, "pm_card_visa")
        async with charger.connect():
            assert await charger.boot() == "Accepted"
            await charger.send_status(1, "Available")
            result = await charge_once(api, charger, await evse_of(server, charger), meter_values=2)
        receipt = (await api.call(RECEIPT, id=result["sessionId"]))["receipt"]
        total = receipt["totalInclVat"]["amountMinor"]
        assert total > hold_minor
        async with asyncio.timeout(15):
            await reconciler(server).next_pass()
        payment, sums = await payment_and_ledger(server)
    assert (payment.status, payment.captured_minor) == (PaymentStatus.CAPTURED, total)
    assert sums[LedgerKind.CAPTURE] == total
    assert sums[LedgerKind.AUTHORISATION] == total  # the hold plus the remainder's charge
    assert sums[LedgerKind.RELEASE] == 0
    assert payment.remainder_intent_id is not None
    remainder = await localstripe.intent(payment.remainder_intent_id)
    assert (remainder.status, remainder.amount) == ("succeeded", total - hold_minor)
