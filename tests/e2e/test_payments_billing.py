"""Billing beyond the app start: an RFID session of a driver with a default card is charged
off-session for the receipt's total after it ends (once, however often the reconciler runs;
a decline is recorded), and operators refund part or all of what was taken, never more."""

import asyncio
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from app.db.models import AuditRecord, ChargingSession, IdToken, Payment, PaymentLedgerEntry
from app.db.models.payment import LedgerKind, PaymentRefund, PaymentStatus, RefundStatus
from app.domain.id_tokens import canonical_uid
from app.settings import Settings
from app.simulator import SimulatedStation
from tests.conftest import LiveServer
from tests.e2e.test_driver_journey import RECEIPT, Api, provision
from tests.e2e.test_payments import driver_with_card, evse_of, reconciler
from tests.graphql.conftest import global_id
from tests.payments.harness import LocalStripe, localstripe, localstripe_url, with_payments
from tests.payments.operator import give, operator_headers, organisation

__all__ = ["localstripe", "localstripe_url"]

pytestmark = pytest.mark.e2e

SET_DEFAULT = """
mutation($input: SetDefaultPaymentMethodInput!) {
  setDefaultPaymentMethod(input: $input) { __typename } }
"""
REFUND = """
mutation($input: RefundSessionInput!) { refundSession(input: $input) { __typename
  ... on SessionRefund { amountMinor currency reason status failure }
  ... on NothingToRefund { message } ... on RefundSessionNotFound { message }
  ... on InvalidRefund { message } } }
"""
RFID = "04A1B2C3D4"
START_CAPPED = """
mutation($input: StartSessionInput!) { startSession(input: $input) { __typename
  ... on CommandPayload { commandId } ... on InvalidStartSessionInput { message } } }
"""
PAYMENT = """
query($id: ID!) { sessionPayment(sessionId: $id) {
  status currency heldMinor owedMinor capturedMinor refundedMinor declineMessage } }
"""


@pytest.fixture
def settings(settings: Settings, localstripe_url: str) -> Settings:
    return with_payments(settings, localstripe_url)


async def rfid_session(
    server: LiveServer, api: Api, stripe: LocalStripe, card: str
) -> tuple[int, int]:
    """A driver with `card` as default and an RFID card charges at a fresh 2.0.1 charger
    without the app: (session id, receipt total)."""
    charger: SimulatedStation = await provision(server, "2.0.1")
    method_id = await driver_with_card(api, stripe, card)
    chosen = await api.call(SET_DEFAULT, input={"paymentMethodId": method_id})
    assert chosen["setDefaultPaymentMethod"]["__typename"] != "PaymentMethodNotFound"
    async with server.runtime.session_factory() as db:
        payment_count = len((await db.exec(select(Payment))).all())
        driver_token = (await db.exec(select(IdToken))).first()
        assert driver_token is not None  # the app token signUp made
        db.add(IdToken(uid=canonical_uid(RFID), driver_id=driver_token.driver_id))
        await db.commit()
    async with charger.connect():
        assert await charger.boot() == "Accepted"
        await charger.send_status(1, "Available")
        await charger.start_transaction(1, RFID)
        for _ in range(2):
            await charger.send_meter_values(1)
        await charger.stop_transaction(1)
    async with server.runtime.session_factory() as db:
        session = (await db.exec(select(ChargingSession))).one()
        assert payment_count == 0  # no hold: nothing was placed before the RFID start
    assert session.id is not None
    receipt = (await api.call(RECEIPT, id=global_id("ChargingSession", session.id)))["receipt"]
    return session.id, receipt["totalInclVat"]["amountMinor"]


async def ledger(server: LiveServer) -> tuple[Payment, dict[LedgerKind, int]]:
    async with server.runtime.session_factory() as db:
        (payment,) = (await db.exec(select(Payment))).all()
        entries = (await db.exec(select(PaymentLedgerEntry))).all()
    return payment, {k: sum(e.amount_minor for e in entries if e.kind == k) for k in LedgerKind}


async def test_an_rfid_session_is_charged_off_session_once_for_the_receipt_total(
    live_server: LiveServer, localstripe: LocalStripe
) -> None:
    api = Api(live_server)
    _, total = await rfid_session(live_server, api, localstripe, "pm_card_visa")
    assert total > 0
    payment, _ = await ledger(live_server)
    assert (payment.status, payment.amount_to_capture_minor) == (
        PaymentStatus.CAPTURE_PENDING,
        total,
    )
    async with asyncio.timeout(15):
        await reconciler(live_server).next_pass()
        await reconciler(live_server).next_pass()  # a second pass must not charge again
    payment, sums = await ledger(live_server)
    assert (payment.status, payment.captured_minor) == (PaymentStatus.CAPTURED, total)
    assert sums == {
        LedgerKind.AUTHORISATION: total, LedgerKind.CAPTURE: total,
        LedgerKind.RELEASE: 0, LedgerKind.REFUND: 0,
    }  # fmt: skip
    (charged,) = await localstripe.intents()
    assert (charged.id, charged.status, charged.amount) == (
        payment.remainder_intent_id,
        "succeeded",
        total,
    )
    assert charged.customer == payment.customer_id


async def test_a_declined_rfid_charge_is_recorded_and_not_retried(
    live_server: LiveServer, localstripe: LocalStripe
) -> None:
    api = Api(live_server)
    session_id, total = await rfid_session(
        live_server, api, localstripe, "pm_card_chargeCustomerFail"
    )
    async with asyncio.timeout(15):
        await reconciler(live_server).next_pass()
        await reconciler(live_server).next_pass()
    payment, sums = await ledger(live_server)
    assert payment.status == PaymentStatus.FAILED
    assert payment.decline_message
    assert "declin" in payment.decline_message.lower()
    assert sums[LedgerKind.CAPTURE] == 0
    assert all(intent.status != "succeeded" for intent in await localstripe.intents())
    # The driver sees it on the session.
    seen = await api.call(PAYMENT, id=global_id("ChargingSession", session_id))
    assert seen["sessionPayment"] == {
        "status": "FAILED", "currency": "EUR", "heldMinor": 0, "owedMinor": total,
        "capturedMinor": 0, "refundedMinor": 0, "declineMessage": payment.decline_message,
    }  # fmt: skip


async def refund(server: LiveServer, headers: dict[str, str], **input: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.http_url, timeout=10) as http:
        response = await http.post(
            "/graphql", json={"query": REFUND, "variables": {"input": input}}, headers=headers
        )
    body = response.json()
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["refundSession"]
    return result


async def test_operators_refund_part_then_the_rest_never_more_and_each_once(
    live_server: LiveServer, localstripe: LocalStripe
) -> None:
    api = Api(live_server)
    session_id, total = await rfid_session(live_server, api, localstripe, "pm_card_visa")
    async with asyncio.timeout(15):
        await reconciler(live_server).next_pass()
    factory = live_server.runtime.session_factory
    org = await organisation(factory)
    async with factory() as db:
        session = await db.get(ChargingSession, session_id)
        assert session is not None
        from app.db.models import ChargingStation

        station = await db.get(ChargingStation, session.station_id)
        assert station is not None
    await give(factory, org, location_id=station.location_id)
    admin = await operator_headers(live_server.app, org)
    sid = global_id("ChargingSession", session_id)
    first = {
        "sessionId": sid,
        "amountMinor": 100,
        "reason": "slow charger",
        "clientMutationId": "r1",
    }

    done = await refund(live_server, admin, **first)
    assert done == {
        "__typename": "SessionRefund", "amountMinor": 100, "currency": "EUR",
        "reason": "slow charger", "status": "SUCCEEDED", "failure": None,
    }  # fmt: skip
    assert await refund(live_server, admin, **first) == done  # a retry: the same refund
    too_much = await refund(live_server, admin, **{**first, "clientMutationId": "r2",
                                                     "amountMinor": total})  # fmt: skip
    assert too_much["__typename"] == "NothingToRefund"
    assert f"{total - 100} EUR" in too_much["message"]
    rest = await refund(live_server, admin, sessionId=sid, reason="goodwill", clientMutationId="r3")
    assert (rest["status"], rest["amountMinor"]) == ("SUCCEEDED", total - 100)
    nothing = await refund(live_server, admin, sessionId=sid, reason="again", clientMutationId="r4")
    assert nothing["__typename"] == "NothingToRefund"

    stranger = await operator_headers(live_server.app, await organisation(factory))
    hidden = await refund(live_server, stranger, **{**first, "clientMutationId": "r5"})
    assert hidden["__typename"] == "RefundSessionNotFound"
    bad = await refund(live_server, admin, **{**first, "clientMutationId": "r6", "reason": " "})
    assert bad["__typename"] == "InvalidRefund"

    payment, sums = await ledger(live_server)
    assert sums[LedgerKind.REFUND] == sums[LedgerKind.CAPTURE] == total
    seen = (await api.call(PAYMENT, id=sid))["sessionPayment"]
    assert (seen["status"], seen["capturedMinor"], seen["refundedMinor"]) == (
        "CAPTURED", total, total,
    )  # fmt: skip
    assert payment.remainder_intent_id is not None
    charge = (await localstripe.intent(payment.remainder_intent_id)).latest_charge
    assert charge.amount_refunded == total
    async with factory() as db:
        refunds = (await db.exec(select(PaymentRefund).order_by(col(PaymentRefund.id)))).all()
        audits = (
            await db.exec(select(AuditRecord).where(AuditRecord.action == "payment.refund"))
        ).all()
    assert [(r.amount_minor, r.status) for r in refunds] == [
        (100, RefundStatus.SUCCEEDED), (total - 100, RefundStatus.SUCCEEDED),
    ]  # fmt: skip
    assert [a.detail["amount_minor"] for a in audits if a.detail] == [100, total - 100]
    assert all(a.operator_id == org.id for a in audits)


@pytest.mark.parametrize(
    ("cap", "held"), [(1500, 1500), (50, None)], ids=["driver-cap", "cap-too-small"]
)
async def test_the_drivers_own_cap_is_the_hold(
    live_server: LiveServer, localstripe: LocalStripe, cap: int, held: int | None
) -> None:
    charger = await provision(live_server, "2.0.1")
    api = Api(live_server)
    await driver_with_card(api, localstripe, "pm_card_visa")
    async with charger.connect():
        assert await charger.boot() == "Accepted"
        await charger.send_status(1, "Available")
        variables = {
            "evseId": await evse_of(live_server, charger), "clientMutationId": "capped",
            "maxAmountMinor": cap,
        }  # fmt: skip
        started = (await api.call(START_CAPPED, input=variables))["startSession"]
    if held is None:
        assert started["__typename"] == "InvalidStartSessionInput"
        assert "maxAmountMinor 50" in started["message"]
        assert await localstripe.intents() == []
        return
    assert started["__typename"] == "CommandPayload", started
    (intent,) = await localstripe.intents()
    assert (intent.amount, intent.status) == (held, "requires_capture")
