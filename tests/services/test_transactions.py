"""Transaction services: token verdicts and idempotent starts, called directly."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from app.db.engine import SessionFactory
from app.db.models import ChargingSession, Driver, IdToken
from app.domain.enums import AuthorizationStatus
from app.events import InProcessEventBus
from app.services import tariffs, transactions
from app.services.group_commit import GroupCommit
from tests.factories import make_id_token, make_location, make_station

NOW = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "expires_in", "expected"),
    [
        pytest.param(AuthorizationStatus.ACCEPTED, None, AuthorizationStatus.ACCEPTED, id="ok"),
        pytest.param(
            AuthorizationStatus.ACCEPTED,
            timedelta(days=1),
            AuthorizationStatus.ACCEPTED,
            id="not-yet-expired",
        ),
        pytest.param(
            AuthorizationStatus.ACCEPTED,
            -timedelta(seconds=1),
            AuthorizationStatus.EXPIRED,
            id="expired-by-date",
        ),
        pytest.param(
            AuthorizationStatus.EXPIRED, None, AuthorizationStatus.EXPIRED, id="expired-status"
        ),
        pytest.param(AuthorizationStatus.BLOCKED, None, AuthorizationStatus.BLOCKED, id="blocked"),
    ],
)
async def test_authorize_verdicts(
    session_factory: SessionFactory,
    status: AuthorizationStatus,
    expires_in: timedelta | None,
    expected: AuthorizationStatus,
) -> None:
    token = await make_id_token(session_factory, uid="Tok-1", status=status)
    if expires_in is not None:
        async with session_factory() as db:
            row = await db.get(IdToken, token.id)
            assert row is not None
            row.expires_at = NOW + expires_in
            await db.commit()
    verdict = await transactions.authorize(
        session_factory=session_factory, id_token="TOK-1", at=NOW
    )
    assert verdict.status == expected


@pytest.mark.parametrize(
    ("disabled", "expected"),
    [(False, AuthorizationStatus.ACCEPTED), (True, AuthorizationStatus.BLOCKED)],
    ids=["active-account", "disabled-account"],
)
async def test_a_disabled_drivers_cards_are_blocked(
    session_factory: SessionFactory, disabled: bool, expected: AuthorizationStatus
) -> None:
    async with session_factory() as db:
        driver = Driver(email="d@example.org", password_hash="x", disabled=disabled)
        db.add(driver)
        await db.flush()
        db.add(IdToken(uid="CARD-9", driver_id=driver.id))
        await db.commit()
    verdict = await transactions.authorize(session_factory=session_factory, id_token="card-9")
    assert verdict.status == expected


async def test_unknown_token_is_invalid(session_factory: SessionFactory) -> None:
    verdict = await transactions.authorize(session_factory=session_factory, id_token="nobody")
    assert verdict.status == AuthorizationStatus.INVALID


async def test_start_session_is_idempotent_and_uses_the_pk_as_transaction_id(
    session_factory: SessionFactory,
) -> None:
    await make_station(session_factory, station_id="CS-SVC")
    bus = InProcessEventBus()
    started = [
        await transactions.start_session(
            session_factory=session_factory,
            bus=bus,
            station_id="CS-SVC",
            ocpp_evse_id=1,
            id_token="X",
            meter_start_wh=10,
            started_at=NOW,
        )
        for _ in range(2)
    ]
    assert started[0] == started[1]
    assert started[0].transaction_id == str(started[0].session_id)
    assert started[0].authorization is not None
    assert started[0].authorization.status == AuthorizationStatus.INVALID
    async with session_factory() as db:
        assert len((await db.exec(select(ChargingSession))).all()) == 1


async def _driver_card(session_factory: SessionFactory, uid: str, *, disabled: bool) -> int:
    async with session_factory() as db:
        driver = Driver(email=f"{uid}@example.org", password_hash="x", disabled=disabled)
        db.add(driver)
        await db.flush()
        assert driver.id is not None
        db.add(IdToken(uid=uid, driver_id=driver.id))
        await db.commit()
        return driver.id


@pytest.mark.parametrize("batched", [False, True], ids=["alone", "group-commit"])
async def test_a_start_belongs_to_its_cards_driver_with_its_tariff_and_transaction_id(
    session_factory: SessionFactory, batched: bool
) -> None:
    """1.6 and 2.0.1 starts read the card once; the session still carries its driver (a disabled
    account's too, though refused), its connector's tariff and, for 1.6, its pk as id."""
    location = await make_location(session_factory)
    station = await make_station(session_factory, location=location, evses=3)
    tariff = await tariffs.create_tariff(
        session_factory=session_factory, name="flat", currency="CHF", vat_percent="8",
        elements=[{"price_components": [{"type": "ENERGY", "price": "0.40"}]}],
    )  # fmt: skip
    assert tariff.id is not None
    await tariffs.assign_tariff(
        session_factory=session_factory, tariff_id=tariff.id, station_ids=[station.id]
    )
    active = await _driver_card(session_factory, "CARD-A", disabled=False)
    disabled = await _driver_card(session_factory, "CARD-B", disabled=True)
    bus = InProcessEventBus()
    group = GroupCommit(session_factory=session_factory, lanes=1)
    if batched:
        await group.start()
    try:
        card_a, card_b, event = await asyncio.gather(
            transactions.start_session(
                session_factory=session_factory, bus=bus, station_id=station.id, ocpp_evse_id=1,
                id_token="card-a", meter_start_wh=0, started_at=NOW, group=group,
            ),
            transactions.start_session(
                session_factory=session_factory, bus=bus, station_id=station.id, ocpp_evse_id=2,
                id_token="card-b", meter_start_wh=0, started_at=NOW, group=group,
            ),
            transactions.apply_transaction_event(
                session_factory=session_factory, bus=bus, station_id=station.id,
                event=transactions.TransactionEventData(
                    event_type=transactions.TransactionEventType.STARTED, transaction_id="tx-201",
                    seq_no=0, timestamp=NOW, ocpp_evse_id=3, id_token="Card-A",
                ),
                group=group,
            ),
        )  # fmt: skip
    finally:
        await group.stop()
    assert batched == (group.batches > 0)
    assert card_a.authorization is not None
    assert card_b.authorization is not None
    assert card_a.authorization.status == AuthorizationStatus.ACCEPTED
    assert card_b.authorization.status == AuthorizationStatus.BLOCKED
    assert event is not None
    assert event.status == AuthorizationStatus.ACCEPTED
    async with session_factory() as db:
        rows = {row.transaction_id: row for row in (await db.exec(select(ChargingSession))).all()}
    assert set(rows) == {card_a.transaction_id, card_b.transaction_id, "tx-201"}
    assert rows[card_a.transaction_id].id == card_a.session_id == int(card_a.transaction_id)
    drivers = [rows[t].driver_id for t in (card_a.transaction_id, card_b.transaction_id)]
    assert [*drivers, rows["tx-201"].driver_id] == [active, disabled, active]
    for row in rows.values():
        assert (row.tariff_id, row.currency, row.cost_incl_vat_minor) == (tariff.id, "CHF", 0)
