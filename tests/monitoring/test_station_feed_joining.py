"""stationUpdated without locationIds follows the caller's whole network, also the stations
that join it while it runs (provisioned, or reporting for the first time); other
organisations' stations never pass."""

import asyncio
from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack
from datetime import UTC, datetime

import pytest

from app.db.engine import SessionFactory
from app.db.models import Location
from app.domain.access import OperatorRole
from app.domain.enums import EvseStatus
from app.events import InProcessEventBus, topics
from app.services import availability, station_live
from app.services.alerts import OperatorScope
from app.services.provisioning import create_station as create_station_row
from app.services.station_feed import station_changes
from app.simulator import SimulationConfig, create_station
from tests.access_builders import make_operator, make_operator_user, operator_bearer
from tests.conftest import LiveServer
from tests.e2e.test_station_updated import STATION_UPDATED, listen, until
from tests.factories import make_location, make_station

PASSWORD = "station-password-0001"


async def next_batch(changes: AsyncGenerator[list[str], None]) -> list[str]:
    async with asyncio.timeout(10):
        return await anext(changes)


async def owned_location(session_factory: SessionFactory, operator_id: int | None) -> Location:
    location = await make_location(session_factory)
    async with session_factory() as db:
        location.operator_id = operator_id
        db.add(location)
        await db.commit()
        await db.refresh(location)
    return location


async def status(session_factory: SessionFactory, bus: InProcessEventBus, station: str) -> None:
    """A station's EVSE reports a status, through the service a charger's message reaches."""
    await availability.record_status(
        session_factory=session_factory, bus=bus, station_id=station, ocpp_evse_id=1,
        status=EvseStatus.AVAILABLE, at=datetime.now(UTC),
    )  # fmt: skip


async def test_the_whole_network_feed_takes_in_stations_that_join(
    session_factory: SessionFactory,
) -> None:
    mine, theirs = await make_operator(session_factory), await make_operator(session_factory)
    assert mine.id is not None
    assert theirs.id is not None
    scope = OperatorScope(operator_id=mine.id)
    here = await owned_location(session_factory, mine.id)
    there = await owned_location(session_factory, theirs.id)
    await make_station(session_factory, station_id="OLD-1", location=here)
    bus = InProcessEventBus()
    stations = await station_live.scoped_stations(
        session_factory=session_factory, scope=scope, location_ids=None
    )
    assert stations == {"OLD-1": here.id}
    looked_up: list[str] = []

    async def joining(station_id: str) -> int | None:
        looked_up.append(station_id)
        return await station_live.station_in_scope(
            session_factory=session_factory, scope=scope, station_id=station_id
        )

    changes = station_changes(
        bus=bus, session_factory=session_factory, stations=stations, coalesce_s=1.0,
        joining=joining,
    )  # fmt: skip
    try:
        assert await next_batch(changes) == []  # listening
        # Provisioned while the feed runs; it reports its first status: it joins at once.
        await make_station(session_factory, station_id="NEW-1", location=here)
        await status(session_factory, bus, "NEW-1")
        assert await next_batch(changes) == ["NEW-1"]
        await bus.publish(
            topics.station_status("NEW-1"), {"type": "StationDisconnected", "station_id": "NEW-1"}
        )
        assert await next_batch(changes) == ["NEW-1"]  # followed from then on

        # Another organisation's new station: looked up once, never passed on.
        await make_station(session_factory, station_id="FOREIGN-1", location=there)
        await status(session_factory, bus, "FOREIGN-1")
        await bus.publish(topics.ALL_SESSIONS, {"type": "SessionStarted", "session_id": 9,
                                                "station_id": "FOREIGN-1"})  # fmt: skip
        await status(session_factory, bus, "OLD-1")
        assert await next_batch(changes) == ["OLD-1"]
        assert looked_up.count("FOREIGN-1") == 1

        # Provisioned and announced (no charger yet): it joins on the announcement.
        await make_station(session_factory, station_id="NEW-2", location=here)
        await bus.publish(
            topics.ALL_STATIONS,
            topics.station_added_event(station_id="NEW-2", location_id=here.id),
        )
        assert await next_batch(changes) == ["NEW-2"]
    finally:
        await changes.aclose()
    assert bus.subscriber_count(topics.ALL_STATIONS) == 0
    assert bus.subscriber_count(topics.station_status("NEW-1")) == 0


@pytest.mark.e2e
async def test_the_network_map_shows_a_charger_that_connects_for_the_first_time(
    live_server: LiveServer,
) -> None:
    factory, tokens = live_server.runtime.session_factory, live_server.runtime.tokens
    viewer_a = await make_operator_user(factory, role=OperatorRole.VIEWER)
    viewer_b = await make_operator_user(factory, role=OperatorRole.VIEWER)
    site_a = await owned_location(factory, viewer_a.operator_id)
    site_b = await owned_location(factory, viewer_b.operator_id)
    await make_station(factory, station_id="B-0001", password=None, location=site_b)
    async with AsyncExitStack() as stack:
        map_a = await listen(live_server, operator_bearer(tokens, viewer_a), STATION_UPDATED,
                             stack, ids=None)  # fmt: skip
        map_b = await listen(live_server, operator_bearer(tokens, viewer_b), STATION_UPDATED,
                             stack, ids=None)  # fmt: skip
        async with asyncio.timeout(20):
            assert (await map_b.get())["identity"] == "B-0001"
        assert map_a.empty()  # A has no stations yet

        # Provisioned after A subscribed; the charger connects, boots and reports.
        await make_station(factory, station_id="MAP-0001", password=PASSWORD,
                           location=site_a)  # fmt: skip
        config = SimulationConfig(
            url=f"{live_server.ws_url}/ocpp", stations=1, protocol="1.6", password=PASSWORD,
            station_prefix="MAP", evses_per_station=1, time_scale=1, dc_every=0,
        )  # fmt: skip
        charger = create_station(config, 0)
        async with charger.connect():
            assert await charger.boot() == "Accepted"
            await charger.send_status(1, "Available")
            seen = await until(map_a, lambda s: s["evses"][0]["status"] == "AVAILABLE")
        assert (seen["identity"], seen["online"]) == ("MAP-0001", True)

        # B's map heard nothing of it: the next thing it gets is B's own change.
        await availability.record_status(
            session_factory=factory, bus=live_server.runtime.bus, station_id="B-0001",
            ocpp_evse_id=1, status=EvseStatus.OUTOFORDER, at=datetime.now(UTC),
        )  # fmt: skip
        async with asyncio.timeout(20):
            after = await map_b.get()
        assert (after["identity"], after["evses"][0]["status"]) == ("B-0001", "OUTOFORDER")
        assert map_b.empty()


@pytest.mark.e2e
async def test_the_network_map_shows_a_station_provisioned_while_it_is_open(
    live_server: LiveServer, subscribed: asyncio.Queue[set[str]]
) -> None:
    factory, tokens = live_server.runtime.session_factory, live_server.runtime.tokens
    viewer = await make_operator_user(factory, role=OperatorRole.VIEWER)
    site = await owned_location(factory, viewer.operator_id)
    async with AsyncExitStack() as stack:
        network = await listen(live_server, operator_bearer(tokens, viewer), STATION_UPDATED,
                               stack, ids=None)  # fmt: skip
        async with asyncio.timeout(20):  # until the feed listens for stations that join
            while topics.ALL_STATIONS not in await subscribed.get():
                pass
        # Provisioned through the service with the app's bus; no charger ever connects.
        await create_station_row(
            session_factory=factory, station_id="PROV-0001", password=None,
            location_id=site.id, evses=2, bus=live_server.runtime.bus,
        )  # fmt: skip
        seen = await until(network, lambda snapshot: snapshot["identity"] == "PROV-0001")
    assert seen["online"] is False
    assert [evse["evse"]["uid"] for evse in seen["evses"]] == ["PROV-0001*1", "PROV-0001*2"]
