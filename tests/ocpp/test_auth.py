"""Station authentication: Basic credentials, argon2 off the loop, and the verification cache."""

import asyncio
import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.engine import SessionFactory
from app.db.models import ChargingStation
from app.domain.enums import RegistrationStatus
from app.events import InProcessEventBus, topics
from app.ocpp.auth import StationAuthenticator, basic_credentials
from tests.factories import make_station


def _header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(_header("CS-1", "p:w"), ("CS-1", "p:w"), id="colon-in-password"),
        pytest.param("Bearer abc", None, id="other-scheme"),
        pytest.param("Basic !!!", None, id="not-base64"),
        pytest.param("Basic " + base64.b64encode(b"nocolon").decode(), None, id="no-colon"),
        pytest.param(None, None, id="missing"),
    ],
)
def test_basic_credentials(header: str | None, expected: tuple[str, str] | None) -> None:
    assert basic_credentials(header) == expected


async def test_a_verified_password_is_not_hashed_again(session_factory: SessionFactory) -> None:
    await make_station(session_factory, station_id="CS-A1", password="right")
    auth = StationAuthenticator(session_factory=session_factory, allow_unknown=False)
    assert await auth.authenticate("CS-A1", _header("CS-A1", "right"))
    assert await auth.authenticate("CS-A1", _header("CS-A1", "right"))
    assert auth.argon2_checks == 1
    assert not await auth.authenticate("CS-A1", _header("CS-A1", "wrong"))
    assert not await auth.authenticate("CS-A1", _header("CS-OTHER", "right"))
    assert auth.argon2_checks == 2  # the wrong password was checked; the wrong user was not


async def test_stations_without_password_need_allow_unknown(
    session_factory: SessionFactory,
) -> None:
    await make_station(session_factory, station_id="CS-NOPW", password=None)
    strict = StationAuthenticator(session_factory=session_factory, allow_unknown=False)
    lenient = StationAuthenticator(session_factory=session_factory, allow_unknown=True)
    assert not await strict.authenticate("CS-NOPW", None)
    assert not await strict.authenticate("CS-GHOST", None)
    assert await lenient.authenticate("CS-NOPW", None)
    assert await lenient.authenticate("CS-GHOST", None)
    async with session_factory() as db:
        ghost = await db.get(ChargingStation, "CS-GHOST")
    assert ghost is not None
    assert ghost.registration_status == RegistrationStatus.PENDING


async def test_a_station_registered_as_pending_is_announced_once(
    session_factory: SessionFactory,
) -> None:
    bus = InProcessEventBus()
    auth = StationAuthenticator(session_factory=session_factory, allow_unknown=True, bus=bus)
    async with bus.subscribe(topics.ALL_STATIONS) as feed:
        assert await auth.authenticate("CS-NEWCOMER", None)
        assert await auth.authenticate("CS-NEWCOMER", None)  # known now: no second announcement
        async with asyncio.timeout(5):
            topic, payload = await feed.get()
        assert feed.get_nowait() is None
    assert (topic, payload["type"], payload["station_id"]) == (
        topics.ALL_STATIONS, "StationAdded", "CS-NEWCOMER",
    )  # fmt: skip


class _CountingSessions:
    """A session factory that counts the sessions open at once."""

    def __init__(self, factory: SessionFactory) -> None:
        self._factory = factory
        self.open = self.most = 0

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[AsyncSession]:
        self.open += 1
        self.most = max(self.most, self.open)
        try:
            async with self._factory() as db:
                yield db
        finally:
            self.open -= 1


async def test_a_reconnect_storm_holds_at_most_the_given_database_slots(
    session_factory: SessionFactory,
) -> None:
    """10,000 handshakes at once each took a pooled connection and starved the pool (those
    waiting past its 30 s failed); they share the endpoint's slots instead."""
    for n in range(20):
        await make_station(session_factory, station_id=f"CS-S{n}", password="right")
    counting = _CountingSessions(session_factory)
    auth = StationAuthenticator(
        session_factory=counting,  # type: ignore[arg-type]  (sessions, counted)
        allow_unknown=False,
        db_slots=asyncio.Semaphore(2),
    )
    checks = [auth.authenticate(f"CS-S{n}", _header(f"CS-S{n}", "right")) for n in range(20)]
    assert all(await asyncio.gather(*checks))
    assert 0 < counting.most <= 2
