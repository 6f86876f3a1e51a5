"""Holds that never become sessions are released: a charger that refuses the start, and a hold
whose answer was lost (the start is refused at once, the reconciler releases the hold later)."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select

from app.db.models import Payment, RemoteCommand
from app.db.models.payment import LedgerKind, PaymentStatus
from app.main import create_app
from app.services.payments_settlement import settle_owed
from app.settings import Settings
from tests.conftest import LiveServer, serve
from tests.e2e.test_driver_journey import Api, provision
from tests.e2e.test_payments import (
    START_WITH,
    driver_with_card,
    evse_of,
    payment_and_ledger,
    reconciler,
)
from tests.payments.harness import LocalStripe, localstripe, localstripe_url, with_payments
from tests.payments.proxy import StallingProxy

__all__ = ["localstripe", "localstripe_url"]

pytestmark = pytest.mark.e2e


@pytest.fixture
def settings(settings: Settings, localstripe_url: str) -> Settings:
    return with_payments(settings, localstripe_url)


async def test_the_hold_of_a_start_the_charger_refused_is_released(
    live_server: LiveServer, localstripe: LocalStripe
) -> None:
    charger = await provision(live_server, "2.0.1")
    api = Api(live_server)
    await driver_with_card(api, localstripe, "pm_card_visa")
    async with charger.connect():
        assert await charger.boot() == "Accepted"
        await charger.send_status(1, "Available")
        charger.evses[1].operative = False  # the charger refuses remote starts on it
        started = (
            await api.call(
                START_WITH,
                input={"evseId": await evse_of(live_server, charger), "clientMutationId": "r-1"},
            )
        )["startSession"]
        assert started["__typename"] == "CommandPayload"
        assert (await api.final_command_status(started["commandId"]))["status"] == "REJECTED"
    async with asyncio.timeout(15):
        await reconciler(live_server).next_pass()
    payment, sums = await payment_and_ledger(live_server)
    assert payment.status == PaymentStatus.RELEASED
    assert sums[LedgerKind.RELEASE] == sums[LedgerKind.AUTHORISATION] == 5000
    assert payment.intent_id is not None
    assert (await localstripe.intent(payment.intent_id)).status == "canceled"


async def test_a_hold_whose_answer_is_lost_refuses_the_start_and_is_released_later(
    settings: Settings, engine: AsyncEngine, localstripe_url: str, localstripe: LocalStripe
) -> None:
    """Gap: localstripe ignores Idempotency-Key, so each retry of the lost hold (same key,
    checked below) creates another intent there; Stripe would answer all of them with the
    first. The backend's part is checked: the start is refused, the charger never asked, and
    the reconciler replays the hold with its key and releases it."""
    async with StallingProxy(
        localstripe_url, path_suffix="/v1/payment_intents", stalls=3
    ).running() as proxy:
        config = with_payments(
            settings, proxy.url, stripe_timeout_s=1.0, stripe_max_network_retries=2
        )
        async with serve(create_app(config)) as server:
            charger = await provision(server, "1.6")
            api = Api(server)
            await driver_with_card(api, localstripe, "pm_card_visa")
            async with charger.connect():
                assert await charger.boot() == "Accepted"
                await charger.send_status(1, "Available")
                evse = await evse_of(server, charger)
                async with asyncio.timeout(30):
                    result = (
                        await api.call(
                            START_WITH, input={"evseId": evse, "clientMutationId": "l-1"}
                        )
                    )["startSession"]
                assert result["__typename"] == "PaymentDeclined", result
                assert "could not be confirmed" in result["message"]
                assert charger.evses[1].start_requests == []
            factory = server.runtime.session_factory
            async with factory() as db:
                (payment,) = (await db.exec(select(Payment))).all()
                command = await db.get(RemoteCommand, payment.command_id)
            assert payment.status == PaymentStatus.HOLD_PENDING
            assert command is not None
            assert command.status == "FAILED"
            assert proxy.keys == [f"payment-{payment.id}-hold"] * 3
            gateway = server.runtime.payments
            assert gateway is not None
            later = datetime.now(UTC) + timedelta(minutes=2)
            await settle_owed(session_factory=factory, gateway=gateway, now=later)
            _, sums = await payment_and_ledger(server)
            async with factory() as db:
                settled = await db.get(Payment, payment.id)
    assert settled is not None
    assert settled.status == PaymentStatus.RELEASED
    assert sums[LedgerKind.AUTHORISATION] == sums[LedgerKind.RELEASE] == 5000
    assert settled.intent_id is not None
    assert (await localstripe.intent(settled.intent_id)).status == "canceled"
