"""The hold before a start, at the service level: once per command, even when raced."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlmodel import select

from app.db.engine import SessionFactory
from app.db.models import Driver, Evse, Payment, RemoteCommand
from app.db.models.payment import PaymentStatus
from app.payments.gateway import StripeGateway
from app.services.payments import ensure_customer, hold_for_start
from app.settings import Settings
from tests.factories import make_station
from tests.payments.harness import LocalStripe


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[StripeGateway]:
    direct = StripeGateway(settings)
    yield direct
    await direct.close()


async def start_command(session_factory: SessionFactory, driver_id: int) -> str:
    """A PENDING START, as `commands.request_start` records it before the hold."""
    station = await make_station(session_factory)
    async with session_factory() as db:
        evse = (await db.exec(select(Evse).where(Evse.station_id == station.id))).one()
        command = RemoteCommand(
            id=str(uuid.uuid4()), kind="START", driver_id=driver_id,
            station_id=station.id, evse_id=evse.id, remote_start_id=1,
        )  # fmt: skip
        db.add(command)
        await db.commit()
        return command.id


async def test_concurrent_holds_for_one_command_place_one_hold(
    session_factory: SessionFactory, gateway: StripeGateway, localstripe: LocalStripe
) -> None:
    async with session_factory() as db:
        driver = Driver(email="racer@example.org", password_hash="-")
        db.add(driver)
        await db.commit()
        await db.refresh(driver)
    assert driver.id is not None
    customer = await ensure_customer(
        session_factory=session_factory, gateway=gateway, driver_id=driver.id
    )
    await localstripe.client.v1.payment_methods.attach_async(
        "pm_card_visa", params={"customer": customer.customer_id}
    )
    command_id = await start_command(session_factory, driver.id)

    async def hold() -> object:
        return await hold_for_start(
            session_factory=session_factory, gateway=gateway, driver_id=driver.id,
            command_id=command_id, amount_minor=5000,
        )  # fmt: skip

    async with asyncio.timeout(20):
        results = await asyncio.gather(hold(), hold(), hold())
    async with session_factory() as db:
        (payment,) = (await db.exec(select(Payment))).all()
    assert all(isinstance(r, Payment) and r.id == payment.id for r in results)
    assert payment.status == PaymentStatus.AUTHORISED
    (intent,) = await localstripe.intents()
    assert (intent.id, intent.status) == (payment.intent_id, "requires_capture")
