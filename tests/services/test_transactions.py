"""Transaction services: token verdicts and idempotent starts, called directly."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from app.db.engine import SessionFactory
from app.db.models import ChargingSession, Driver, IdToken
from app.domain.enums import AuthorizationStatus
from app.events import InProcessEventBus
from app.services import transactions
from tests.factories import make_id_token, make_station

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
