"""Which events start a scheduler pass: one of a station in no capacity tree starts none; one
of a station put in a tree since the last pass (without a tree event) starts a full one."""

import asyncio

from app.db.engine import SessionFactory
from app.domain.enums import EvseStatus
from app.events import InProcessEventBus
from app.loadmgmt.scheduler import LoadScheduler
from app.services import availability, transactions
from app.settings import Settings
from tests.factories import make_station
from tests.loadmgmt.test_sites import NOW, Stations, make_site


def recorded_passes(
    settings: Settings, session_factory: SessionFactory, bus: InProcessEventBus
) -> tuple[LoadScheduler, "asyncio.Queue[set[int] | None]"]:
    """A scheduler (timed pass hourly) whose passes' sites are queued as they end."""
    loop = LoadScheduler(
        settings=settings.model_copy(update={"loadmgmt_interval_s": 3600.0}),
        session_factory=session_factory, bus=bus, commander=Stations(), clock=lambda: NOW,
    )  # fmt: skip
    passes: asyncio.Queue[set[int] | None] = asyncio.Queue()
    recompute = loop.recompute

    async def recorded(sites: set[int] | None = None) -> float:
        wait_s = await recompute(sites)
        passes.put_nowait(sites)
        return wait_s

    loop.recompute = recorded  # type: ignore[method-assign]
    return loop, passes


async def test_events_of_a_station_in_no_site_start_no_pass(
    settings: Settings, session_factory: SessionFactory
) -> None:
    site = await make_site(session_factory, "INSITE", charging=0)
    await make_station(session_factory, station_id="NOSITE-0")  # in no capacity tree
    bus = InProcessEventBus()
    loop, passes = recorded_passes(settings, session_factory, bus)
    async with loop:
        async with asyncio.timeout(10):
            assert await passes.get() is None  # the first pass: every site
        # A status change and a session start of the station outside every tree, then one
        # session start on the site: the next pass is that site's alone, and the only one.
        await availability.record_status(
            session_factory=session_factory, bus=bus, station_id="NOSITE-0", ocpp_evse_id=1,
            status=EvseStatus.CHARGING, at=NOW,
        )  # fmt: skip
        await transactions.start_session(
            session_factory=session_factory, bus=bus, station_id="NOSITE-0", ocpp_evse_id=1,
            id_token=None, meter_start_wh=0, started_at=NOW,
        )  # fmt: skip
        await transactions.start_session(
            session_factory=session_factory, bus=bus, station_id="INSITE-1", ocpp_evse_id=1,
            id_token=None, meter_start_wh=0, started_at=NOW,
        )  # fmt: skip
        async with asyncio.timeout(10):
            assert await passes.get() == {site}  # before: a full pass (None) for each


async def test_an_event_of_a_station_put_in_a_tree_without_an_event_starts_a_full_pass(
    settings: Settings, session_factory: SessionFactory
) -> None:
    bus = InProcessEventBus()
    loop, passes = recorded_passes(settings, session_factory, bus)
    async with loop:
        async with asyncio.timeout(10):
            assert await passes.get() is None  # the first pass: no site yet
        # Nodes written straight to the database (no tree event), then a session starts there.
        site = await make_site(session_factory, "LATE", charging=0)
        await transactions.start_session(
            session_factory=session_factory, bus=bus, station_id="LATE-1", ocpp_evse_id=1,
            id_token=None, meter_start_wh=0, started_at=NOW,
        )  # fmt: skip
        async with asyncio.timeout(10):
            assert await passes.get() is None  # every site: the index did not know this one
        assert loop.solved_sites == {site: 1}
