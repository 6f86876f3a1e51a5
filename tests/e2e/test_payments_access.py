"""Whose card pays: a driver cannot hold a session on another driver's saved card, and a
retried startSession after a decline is declined again without a second hold."""

import pytest
from sqlmodel import select

from app.db.models import Payment
from app.db.models.payment import PaymentStatus
from app.settings import Settings
from tests.conftest import LiveServer
from tests.e2e.test_driver_journey import SIGN_UP, Api, provision
from tests.e2e.test_payments import START_WITH, driver_with_card, evse_of
from tests.payments.harness import LocalStripe, localstripe, localstripe_url, with_payments

__all__ = ["localstripe", "localstripe_url"]

pytestmark = pytest.mark.e2e


@pytest.fixture
def settings(settings: Settings, localstripe_url: str) -> Settings:
    return with_payments(settings, localstripe_url)


async def test_a_driver_cannot_charge_another_drivers_card(
    live_server: LiveServer, localstripe: LocalStripe
) -> None:
    charger = await provision(live_server, "2.0.1")
    ada = Api(live_server)
    adas_card = await driver_with_card(ada, localstripe, "pm_card_visa")
    bob = Api(live_server)
    signed = await bob.call(
        SIGN_UP, input={"email": "bob@example.org", "password": "correct horse 1", "name": "B"}
    )
    bob.headers = {"Authorization": f"Bearer {signed['signUp']['accessToken']}"}
    async with charger.connect():
        assert await charger.boot() == "Accepted"
        await charger.send_status(1, "Available")
        attempt = {
            "evseId": await evse_of(live_server, charger),
            "clientMutationId": "b-1",
            "paymentMethodId": adas_card,
        }
        result = (await bob.call(START_WITH, input=attempt))["startSession"]
        assert result["__typename"] == "PaymentDeclined"
        assert adas_card in result["message"]
        assert charger.evses[1].start_requests == []
    assert await localstripe.intents() == []  # no hold on Ada's card
    async with live_server.runtime.session_factory() as db:
        assert (await db.exec(select(Payment))).all() == []


async def test_a_retried_start_after_a_decline_is_declined_without_a_second_hold(
    live_server: LiveServer, localstripe: LocalStripe
) -> None:
    charger = await provision(live_server, "1.6")
    api = Api(live_server)
    await driver_with_card(api, localstripe, "pm_card_chargeCustomerFail")
    async with charger.connect():
        assert await charger.boot() == "Accepted"
        await charger.send_status(1, "Available")
        attempt = {"evseId": await evse_of(live_server, charger), "clientMutationId": "same"}
        first = (await api.call(START_WITH, input=attempt))["startSession"]
        retry = (await api.call(START_WITH, input=attempt))["startSession"]
        assert first == retry
        assert first["__typename"] == "PaymentDeclined"
        assert charger.evses[1].start_requests == []
    assert len(await localstripe.intents()) == 1
    async with live_server.runtime.session_factory() as db:
        statuses = [p.status for p in (await db.exec(select(Payment))).all()]
    assert statuses == [PaymentStatus.DECLINED]
