"""Provisioning and the demo network."""

import asyncio

import pytest
from sqlmodel import func, select

from app.db.engine import SessionFactory
from app.db.models import ChargingStation, Connector, Evse, Location
from app.domain.access import OperatorRole
from app.domain.enums import RegistrationStatus
from app.domain.errors import Conflict, InvalidInput, NotFound
from app.events import InProcessEventBus, Subscription, topics
from app.services.demo import (
    DEMO_OPERATOR_EMAIL,
    DEMO_OPERATOR_PASSWORD,
    DEMO_SITES,
    seed_demo_network,
)
from app.services.operators import log_in
from app.services.provisioning import create_location, create_station
from app.services.security import verify_password
from app.services.stations import register_pending_station


async def _count(session_factory: SessionFactory, model: type) -> int:
    async with session_factory() as db:
        return (await db.exec(select(func.count()).select_from(model))).one()


async def test_create_station_stores_evses_connectors_and_a_hashed_password(
    session_factory: SessionFactory,
) -> None:
    location = await create_location(
        session_factory=session_factory, name="Depot", latitude=52.0, longitude=5.0
    )
    station = await create_station(
        session_factory=session_factory,
        station_id="CS-1",
        password="a-long-password-123",
        location_id=location.id,
        evses=3,
    )
    assert station.password_hash is not None
    assert "a-long-password-123" not in station.password_hash
    assert verify_password(station.password_hash, "a-long-password-123")
    assert not verify_password(station.password_hash, "another-password-1")
    async with session_factory() as db:
        evses = (await db.exec(select(Evse).where(Evse.station_id == "CS-1"))).all()
    assert sorted(e.ocpp_evse_id for e in evses) == [1, 2, 3]
    assert await _count(session_factory, Connector) == 3


@pytest.mark.parametrize(
    ("station_id", "password", "evses", "message"),
    [
        ("", "a-long-password-123", 1, "station id"),
        ("has/slash", "a-long-password-123", 1, "station id"),
        ("CS-2", "short", 1, "16 to 40"),
        ("CS-2", "a-long-password-123", 0, "1 to 32"),
    ],
    ids=["empty-id", "slash", "short-password", "no-evses"],
)
async def test_create_station_refuses_bad_input(
    session_factory: SessionFactory, station_id: str, password: str, evses: int, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        await create_station(
            session_factory=session_factory,
            station_id=station_id,
            password=password,
            location_id=None,
            evses=evses,
        )
    assert await _count(session_factory, ChargingStation) == 0


async def test_create_station_refuses_duplicates_and_unknown_locations(
    session_factory: SessionFactory,
) -> None:
    await create_station(
        session_factory=session_factory, station_id="CS-3", password=None, location_id=None
    )
    with pytest.raises(Conflict):
        await create_station(
            session_factory=session_factory, station_id="CS-3", password=None, location_id=None
        )
    with pytest.raises(NotFound):
        await create_station(
            session_factory=session_factory, station_id="CS-4", password=None, location_id=999
        )


def announcements(subscription: Subscription) -> list[tuple[str, int | None]]:
    """(station id, location id) of each `StationAdded` published so far."""
    found = []
    while (published := subscription.get_nowait()) is not None:
        topic, payload = published
        assert (topic, payload["type"]) == (topics.ALL_STATIONS, "StationAdded")
        found.append((payload["station_id"], payload["location_id"]))
    return found


async def test_a_provisioned_station_is_announced_after_its_commit(
    session_factory: SessionFactory,
) -> None:
    location = await create_location(
        session_factory=session_factory, name="Depot", latitude=52.0, longitude=5.0
    )
    bus = InProcessEventBus()
    async with bus.subscribe(topics.ALL_STATIONS) as added:
        await create_station(
            session_factory=session_factory, station_id="NEW-1", password=None,
            location_id=location.id, bus=bus,
        )  # fmt: skip
        async with asyncio.timeout(5):
            topic, payload = await added.get()
        # Committed before it was announced: a listener that looks it up finds it.
        async with session_factory() as db:
            assert await db.get(ChargingStation, payload["station_id"]) is not None
        assert (topic, payload) == (
            topics.ALL_STATIONS,
            topics.station_added_event(station_id="NEW-1", location_id=location.id),
        )
        with pytest.raises(Conflict):  # refused: nothing announced
            await create_station(
                session_factory=session_factory, station_id="NEW-1", password=None,
                location_id=None, bus=bus,
            )  # fmt: skip
        await create_station(  # no bus: no announcement (a script without a running app)
            session_factory=session_factory, station_id="NEW-2", password=None, location_id=None
        )
        assert announcements(added) == []


async def test_an_unknown_station_registered_as_pending_is_announced_once(
    session_factory: SessionFactory,
) -> None:
    bus = InProcessEventBus()
    async with bus.subscribe(topics.ALL_STATIONS) as added:
        created = [
            await register_pending_station(
                session_factory=session_factory, station_id="UNKNOWN-1", bus=bus
            )
            for _ in range(2)  # a second connection of the same station
        ]
        assert announcements(added) == [("UNKNOWN-1", None)]
    assert created == [True, False]
    async with session_factory() as db:
        station = await db.get(ChargingStation, "UNKNOWN-1")
    assert station is not None
    assert station.registration_status is RegistrationStatus.PENDING


@pytest.mark.parametrize(("lat", "lng"), [(91.0, 0.0), (0.0, -181.0)], ids=["lat", "lng"])
async def test_create_location_refuses_bad_coordinates(
    session_factory: SessionFactory, lat: float, lng: float
) -> None:
    with pytest.raises(InvalidInput, match="outside"):
        await create_location(
            session_factory=session_factory, name="X", latitude=lat, longitude=lng
        )
    assert await _count(session_factory, Location) == 0


async def test_seeding_the_demo_network_twice_creates_it_once(
    session_factory: SessionFactory,
) -> None:
    bus = InProcessEventBus()
    async with bus.subscribe(topics.ALL_STATIONS) as added:
        first = await seed_demo_network(session_factory=session_factory, bus=bus)
        announced = announcements(added)
        second = await seed_demo_network(session_factory=session_factory, bus=bus)
        assert announcements(added) == []  # nothing new the second time
    assert first == second
    assert [station_id for station_id, _ in announced] == first
    assert len(first) == sum(site.stations for site in DEMO_SITES)
    assert await _count(session_factory, Location) == len(DEMO_SITES)
    assert await _count(session_factory, Evse) == 2 * len(first)


async def test_the_demo_operator_admin_logs_in_and_owns_the_demo_stations(
    session_factory: SessionFactory,
) -> None:
    await seed_demo_network(session_factory=session_factory)
    user = await log_in(
        session_factory=session_factory, email=DEMO_OPERATOR_EMAIL, password=DEMO_OPERATOR_PASSWORD
    )
    assert user.role is OperatorRole.ADMIN
    async with session_factory() as db:
        owners = (await db.exec(select(Location.operator_id).distinct())).all()
    assert owners == [user.operator_id]
