"""The hold before a start: the driver's cap, else the operator's setting for the tariff, else
for the location, else the network default; operators set theirs with `setHoldAmount`."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette

from app.db.engine import SessionFactory
from app.db.models import (
    AuditRecord,
    ChargingStation,
    Driver,
    Evse,
    HoldSetting,
    Location,
    Operator,
    Payment,
    RemoteCommand,
)
from app.domain.access import OperatorRole
from app.payments.gateway import StripeGateway
from app.services.payments import ensure_customer, hold_for_start
from app.services.tariffs import assign_tariff, create_tariff
from app.settings import Settings
from tests.factories import make_location, make_station
from tests.payments.harness import LocalStripe
from tests.payments.operator import give, operator_headers, organisation

SET_HOLD = """
mutation($input: SetHoldAmountInput!) { setHoldAmount(input: $input) { __typename
  ... on HoldAmountSet { locationId tariffId amountMinor }
  ... on HoldTargetNotFound { message } ... on InvalidHoldAmount { message } } }
"""
ELEMENTS = [{"price_components": [{"type": "ENERGY", "price": "0.40", "step_size": 1}]}]


def gid(type_name: str, key: int | None) -> str:
    from tests.graphql.conftest import global_id

    return global_id(type_name, key)


@pytest.fixture
async def gateway(settings: Settings) -> AsyncIterator[StripeGateway]:
    direct = StripeGateway(settings)
    yield direct
    await direct.close()


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def set_hold(
    http: httpx.AsyncClient, headers: dict[str, str], **input: Any
) -> dict[str, Any]:
    body = (
        await http.post(
            "/graphql", json={"query": SET_HOLD, "variables": {"input": input}}, headers=headers
        )
    ).json()
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["setHoldAmount"]
    return result


async def site(app: Starlette) -> tuple[dict[str, str], int, int, int]:
    """An admin's headers and their organisation's location with a priced station:
    (headers, location id, tariff id, evse id)."""
    session_factory = app.state.runtime.session_factory
    location = await make_location(session_factory)
    station = await make_station(session_factory, location=location)
    tariff = await create_tariff(
        session_factory=session_factory, currency="EUR", elements=ELEMENTS, vat_percent="21"
    )
    await assign_tariff(
        session_factory=session_factory, tariff_id=tariff.id, station_ids=[station.id]
    )
    async with session_factory() as db:
        evse = (await db.exec(select(Evse).where(Evse.station_id == station.id))).one()
    assert location.id is not None
    assert tariff.id is not None
    assert evse.id is not None
    org = await organisation(session_factory)
    await give(session_factory, org, location_id=location.id, tariff_id=tariff.id)
    return await operator_headers(app, org), location.id, tariff.id, evse.id


async def held_amount(
    session_factory: SessionFactory,
    gateway: StripeGateway,
    localstripe: LocalStripe,
    evse_id: int,
    driver_cap_minor: int | None = None,
) -> int:
    """Place a hold for a new START on `evse_id`; answer the amount localstripe holds."""
    async with session_factory() as db:
        driver = Driver(email=f"cap-{uuid.uuid4().hex[:8]}@example.org", password_hash="-")
        db.add(driver)
        await db.commit()
        await db.refresh(driver)
        evse = await db.get(Evse, evse_id)
        assert evse is not None
        assert driver.id is not None
        station = await db.get(ChargingStation, evse.station_id)
        assert station is not None
        command = RemoteCommand(
            id=str(uuid.uuid4()), kind="START", driver_id=driver.id, station_id=station.id,
            evse_id=evse_id, remote_start_id=driver.id,
        )  # fmt: skip
        db.add(command)
        await db.commit()
    customer = await ensure_customer(
        session_factory=session_factory, gateway=gateway, driver_id=driver.id
    )
    await localstripe.client.v1.payment_methods.attach_async(
        "pm_card_visa", params={"customer": customer.customer_id}
    )
    payment = await hold_for_start(
        session_factory=session_factory, gateway=gateway, driver_id=driver.id,
        command_id=command.id, amount_minor=5000, driver_cap_minor=driver_cap_minor,
    )  # fmt: skip
    assert isinstance(payment, Payment), payment
    intent = await localstripe.intent(str(payment.intent_id))
    assert intent.status == "requires_capture"
    assert payment.hold_requested_minor == payment.authorised_minor == intent.amount
    return int(intent.amount)


async def test_the_tariff_setting_wins_over_the_location_and_the_driver_cap_over_both(
    app: Starlette,
    http: httpx.AsyncClient,
    session_factory: SessionFactory,
    gateway: StripeGateway,
    localstripe: LocalStripe,
) -> None:
    headers, location_id, tariff_id, evse_id = await site(app)
    assert await held_amount(session_factory, gateway, localstripe, evse_id) == 5000  # default

    location = gid("Location", location_id)
    at_location = await set_hold(http, headers, locationId=location, amountMinor=2500)
    assert at_location["__typename"] == "HoldAmountSet", at_location
    assert await held_amount(session_factory, gateway, localstripe, evse_id) == 2500

    on_tariff = await set_hold(http, headers, tariffId=gid("Tariff", tariff_id), amountMinor=3000)
    assert on_tariff == {
        "__typename": "HoldAmountSet", "locationId": None,
        "tariffId": gid("Tariff", tariff_id), "amountMinor": 3000,
    }  # fmt: skip
    assert await held_amount(session_factory, gateway, localstripe, evse_id) == 3000
    assert await held_amount(session_factory, gateway, localstripe, evse_id, 1200) == 1200

    cleared = await set_hold(http, headers, tariffId=gid("Tariff", tariff_id), amountMinor=None)
    assert cleared["amountMinor"] is None
    assert await held_amount(session_factory, gateway, localstripe, evse_id) == 2500
    async with session_factory() as db:
        settings = (await db.exec(select(HoldSetting))).all()
        audits = (
            await db.exec(
                select(AuditRecord).where(AuditRecord.action == "payment.hold_amount.set")
            )
        ).all()
    assert [(s.location_id, s.amount_minor) for s in settings] == [(location_id, 2500)]
    assert [a.target for a in audits] == [
        f"location:{location_id}", f"tariff:{tariff_id}", f"tariff:{tariff_id}",
    ]  # fmt: skip
    assert audits[-1].detail == {"amount_minor": None, "previous_minor": 3000}


@pytest.mark.parametrize(
    ("input", "typename", "named"),
    [
        ({"amountMinor": 2500}, "InvalidHoldAmount", "exactly one"),
        ({"location": True, "amountMinor": 99}, "InvalidHoldAmount", "99"),
        ({"location": True, "amountMinor": 100_001}, "InvalidHoldAmount", "100001"),
        ({"locationId": "bm9wZQ==", "amountMinor": 2500}, "HoldTargetNotFound", "bm9wZQ=="),
        ({"tariffId": gid("Tariff", 999_999), "amountMinor": 2500}, "HoldTargetNotFound", "999999"),
    ],
    ids=["no-target", "too-small", "too-large", "not-an-id", "unknown-tariff"],
)
async def test_bad_hold_settings_get_typed_failures_and_change_nothing(
    app: Starlette,
    http: httpx.AsyncClient,
    session_factory: SessionFactory,
    input: dict[str, Any],
    typename: str,
    named: str,
) -> None:
    headers, location_id, _, _ = await site(app)
    if input.pop("location", False):
        input["locationId"] = gid("Location", location_id)
    result = await set_hold(http, headers, **input)
    assert result["__typename"] == typename
    assert named in result["message"]
    async with session_factory() as db:
        assert (await db.exec(select(HoldSetting))).all() == []


async def test_another_organisation_sees_no_such_location_and_a_technician_may_not_set_it(
    app: Starlette, http: httpx.AsyncClient, session_factory: SessionFactory
) -> None:
    _, location_id, _, _ = await site(app)
    stranger = await operator_headers(app, await organisation(session_factory))
    input = {"locationId": gid("Location", location_id), "amountMinor": 2500}
    refused = await set_hold(http, stranger, **input)
    assert refused["__typename"] == "HoldTargetNotFound"
    org_id = (await db_location(session_factory, location_id)).operator_id
    async with session_factory() as db:
        org = await db.get(Operator, org_id)
    assert org is not None
    technician = await operator_headers(app, org, OperatorRole.TECHNICIAN)
    body = (
        await http.post(
            "/graphql", json={"query": SET_HOLD, "variables": {"input": input}}, headers=technician
        )
    ).json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    anonymous = (
        await http.post("/graphql", json={"query": SET_HOLD, "variables": {"input": input}})
    ).json()
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    async with session_factory() as db:
        assert (await db.exec(select(HoldSetting))).all() == []


async def db_location(session_factory: SessionFactory, location_id: int) -> Location:
    async with session_factory() as db:
        found = await db.get(Location, location_id)
    assert found is not None
    return found
