"""Provisioning and the demo network."""

import pytest
from sqlmodel import func, select

from app.db.engine import SessionFactory
from app.db.models import ChargingStation, Connector, Evse, Location
from app.domain.access import OperatorRole
from app.domain.errors import Conflict, InvalidInput, NotFound
from app.services.demo import (
    DEMO_OPERATOR_EMAIL,
    DEMO_OPERATOR_PASSWORD,
    DEMO_SITES,
    seed_demo_network,
)
from app.services.operators import log_in
from app.services.provisioning import create_location, create_station
from app.services.security import verify_password


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
    first = await seed_demo_network(session_factory=session_factory)
    second = await seed_demo_network(session_factory=session_factory)
    assert first == second
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
