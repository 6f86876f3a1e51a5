"""Memberships: an operator puts a plan on sale (a Stripe Product with a monthly Plan and a
member tariff), a driver subscribes with a saved card, the next session is priced on the
member tariff; cancelling changes it back. Stripe's subscription and invoice events keep the
membership's status (applied once each)."""

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest
from sqlmodel import select

from app.db.models import ChargingSession, ChargingStation, Membership, StripeEvent
from app.services import payments_webhooks
from app.services.tariffs import create_tariff
from app.settings import Settings
from app.simulator import SimulatedStation
from tests.conftest import LiveServer
from tests.e2e.test_driver_journey import RECEIPT, STOP, Api, provision, requested_start
from tests.e2e.test_payments import START_WITH, driver_with_card, evse_of
from tests.graphql.conftest import global_id
from tests.payments.harness import (
    LocalStripe,
    localstripe,
    localstripe_url,
    signed_event,
    with_payments,
)
from tests.payments.operator import give, operator_headers, organisation

__all__ = ["localstripe", "localstripe_url"]

pytestmark = pytest.mark.e2e

CREATE_PLAN = """
mutation($input: CreateMembershipPlanInput!) { createMembershipPlan(input: $input) {
  __typename ... on MembershipPlan { id name monthlyFeeMinor currency tariffId }
  ... on InvalidMembershipPlan { message } } }
"""
PLANS = "query { membershipPlans { id name monthlyFeeMinor currency } }"
SUBSCRIBE = """
mutation($input: SubscribeToPlanInput!) { subscribeToPlan(input: $input) { __typename
  ... on Membership { planId status currentPeriodEnd }
  ... on AlreadySubscribed { message } ... on PaymentDeclined { message } } }
"""
CANCEL = """
mutation($input: CancelSubscriptionInput!) { cancelSubscription(input: $input) { __typename
  ... on Membership { status } ... on MembershipNotFound { message } } }
"""
MINE = "query { myMemberships { planId status } }"
MEMBER_ELEMENTS = [{"price_components": [{"type": "ENERGY", "price": "0.10", "step_size": 1}]}]


@pytest.fixture
def settings(settings: Settings, localstripe_url: str) -> Settings:
    return with_payments(settings, localstripe_url)


async def post(
    server: LiveServer, query: str, headers: dict[str, str] | None = None, **variables: Any
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.http_url, timeout=10) as http:
        response = await http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers or {}
        )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]


async def deliver(server: LiveServer, event_type: str, obj: Any, event_id: str) -> None:
    """Stripe posts the event (signed); sent twice, as Stripe may."""
    body, signature = signed_event(event_type, obj.to_dict(), event_id=event_id)
    async with httpx.AsyncClient(base_url=server.http_url, timeout=10) as http:
        for _ in range(2):
            response = await http.post(
                "/stripe/webhook", content=body, headers={"Stripe-Signature": signature}
            )
            assert response.status_code == 200


async def charge(api: Api, charger: SimulatedStation, evse_id: str, attempt: str) -> int:
    """One app session with two meter values; answers its id."""
    started = (await api.call(START_WITH, input={"evseId": evse_id, "clientMutationId": attempt}))[
        "startSession"
    ]
    assert started["__typename"] == "CommandPayload", started
    request = await requested_start(charger)
    await charger.start_transaction(1, request.token, remote_start_id=request.remote_start_id)
    accepted = await api.final_command_status(started["commandId"])
    for _ in range(2):
        await charger.send_meter_values(1)
    stop = {"sessionId": accepted["session"]["id"], "clientMutationId": f"{attempt}-stop"}
    stopped = (await api.call(STOP, input=stop))["stopSession"]
    assert (await api.final_command_status(stopped["commandId"]))["status"] == "ACCEPTED"
    charger.evses[1].vehicle = None  # the driver unplugs (the test plays the EVSE)
    await charger.send_status(1, "Available")
    session_id: str = accepted["session"]["id"]
    return int(session_id) if session_id.isdigit() else int(_key(session_id))


def _key(global_id_value: str) -> str:
    import base64

    return base64.b64decode(global_id_value).decode().split(":", 1)[1]


async def priced(server: LiveServer, api: Api, session_id: int) -> tuple[int | None, int, int]:
    """(tariff id, energy Wh, receipt total) of a session."""
    async with server.runtime.session_factory() as db:
        session = await db.get(ChargingSession, session_id)
    assert session is not None
    receipt = (await api.call(RECEIPT, id=global_id("ChargingSession", session_id)))["receipt"]
    return session.tariff_id, receipt["energyWh"], receipt["totalInclVat"]["amountMinor"]


async def test_a_membership_prices_the_next_session_and_cancelling_changes_it_back(
    live_server: LiveServer, localstripe: LocalStripe
) -> None:
    factory = live_server.runtime.session_factory
    charger = await provision(live_server, "2.0.1")
    org = await organisation(factory)
    member_tariff = await create_tariff(
        session_factory=factory, currency="EUR", elements=MEMBER_ELEMENTS, vat_percent="21",
        operator_id=org.id,
    )  # fmt: skip
    async with factory() as db:
        station = await db.get(ChargingStation, charger.station_id)
    assert station is not None
    await give(factory, org, location_id=station.location_id)
    admin = await operator_headers(live_server.app, org)
    plan_input = {
        "name": "Plus", "monthlyFeeMinor": 999, "tariffId": global_id("Tariff", member_tariff.id)
    }  # fmt: skip
    plan = (await post(live_server, CREATE_PLAN, admin, input=plan_input))["createMembershipPlan"]
    assert plan["__typename"] == "MembershipPlan", plan
    assert (plan["monthlyFeeMinor"], plan["currency"]) == (999, "EUR")
    again = (await post(live_server, CREATE_PLAN, admin, input=plan_input))["createMembershipPlan"]
    assert again["id"] == plan["id"]  # a retried create finds the same product
    assert (await post(live_server, PLANS))["membershipPlans"] == [
        {"id": plan["id"], "name": "Plus", "monthlyFeeMinor": 999, "currency": "EUR"}
    ]

    api = Api(live_server)
    method_id = await driver_with_card(api, localstripe, "pm_card_visa")
    sub_input = {"planId": plan["id"], "paymentMethodId": method_id}
    subscribed = (await api.call(SUBSCRIBE, input=sub_input))["subscribeToPlan"]
    assert (subscribed["__typename"], subscribed["status"]) == ("Membership", "active")
    twice = (await api.call(SUBSCRIBE, input=sub_input))["subscribeToPlan"]
    assert twice["__typename"] == "AlreadySubscribed"
    async with factory() as db:
        (membership,) = (await db.exec(select(Membership))).all()
    subscription = await localstripe.client.v1.subscriptions.retrieve_async(
        membership.subscription_id
    )
    assert (subscription.status, subscription.plan.amount) == ("active", 999)
    await deliver(live_server, "customer.subscription.updated", subscription, "evt_sub_1")

    async with charger.connect():
        assert await charger.boot() == "Accepted"
        await charger.send_status(1, "Available")
        evse_id = await evse_of(live_server, charger)
        as_member = await charge(api, charger, evse_id, "member-1")
        cancelled = (await api.call(CANCEL, input={"planId": plan["id"]}))["cancelSubscription"]
        assert cancelled == {"__typename": "Membership", "status": "canceled"}
        ended = await localstripe.client.v1.subscriptions.retrieve_async(subscription.id)
        await deliver(live_server, "customer.subscription.deleted", ended, "evt_sub_2")
        as_guest = await charge(api, charger, evse_id, "member-2")

    tariff_1, energy_1, total_1 = await priced(live_server, api, as_member)
    tariff_2, _, _ = await priced(live_server, api, as_guest)
    assert tariff_1 == member_tariff.id
    assert tariff_2 is not None
    assert tariff_2 != member_tariff.id
    # 0.10 EUR/kWh + 21% VAT, in cents: the member tariff billed the first session.
    expected = Decimal(energy_1) / 1000 * Decimal("0.10") * Decimal("1.21") * 100
    assert abs(total_1 - int(expected.quantize(Decimal(1), rounding=ROUND_HALF_UP))) <= 1
    assert (await api.call(MINE))["myMemberships"] == [{"planId": plan["id"], "status": "canceled"}]
    async with factory() as db:
        events = (await db.exec(select(StripeEvent))).all()
    assert sorted(e.id for e in events) == ["evt_sub_1", "evt_sub_2"]


async def test_a_failed_invoice_suspends_member_prices_until_one_is_paid(
    live_server: LiveServer, localstripe: LocalStripe
) -> None:
    factory = live_server.runtime.session_factory
    api = Api(live_server)
    method_id = await driver_with_card(api, localstripe, "pm_card_visa")
    tariff = await create_tariff(
        session_factory=factory, currency="EUR", elements=MEMBER_ELEMENTS, vat_percent="21"
    )
    gateway = live_server.runtime.payments
    assert gateway is not None
    from app.services import memberships
    from app.services.alerts import NETWORK

    plan = await memberships.create_plan(
        session_factory=factory, gateway=gateway, scope=NETWORK, actor="test",
        name="Network", monthly_fee_minor=500, tariff_id=tariff.id,
    )  # fmt: skip
    sub_input = {"planId": global_id("MembershipPlan", plan.id), "paymentMethodId": method_id}
    assert (await api.call(SUBSCRIBE, input=sub_input))["subscribeToPlan"]["status"] == "active"
    async with factory() as db:
        (membership,) = (await db.exec(select(Membership))).all()
    invoice = {"id": "in_1", "object": "invoice", "subscription": membership.subscription_id}
    statuses = []
    for event_id, event_type in [
        ("evt_in_1", "invoice.payment_failed"),
        ("evt_in_1", "invoice.payment_failed"),  # a redelivery changes nothing
        ("evt_in_2", "invoice.paid"),
    ]:
        await payments_webhooks.apply_event(
            session_factory=factory, event_id=event_id, event_type=event_type, data=invoice
        )
        async with factory() as db:
            row = await db.get(Membership, membership.id)
            assert row is not None
            statuses.append(row.status)
    assert statuses == ["past_due", "past_due", "active"]
