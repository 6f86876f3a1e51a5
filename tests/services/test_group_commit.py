"""Group commit: units of many stations share one transaction; a bad one fails only itself."""

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.engine import SessionFactory
from app.db.models import ChargingStation
from app.domain.errors import NotFound
from app.services.group_commit import GroupCommit


def _add_station(station_id: str) -> Callable[[AsyncSession], Awaitable[str]]:
    async def work(db: AsyncSession) -> str:
        db.add(ChargingStation(id=station_id))
        return station_id

    return work


async def _stored(session_factory: SessionFactory, prefix: str) -> list[str]:
    async with session_factory() as db:
        rows = await db.exec(
            select(ChargingStation.id).where(col(ChargingStation.id).startswith(prefix))
        )
        return sorted(rows.all())


async def test_units_submitted_together_commit_in_one_batch(
    session_factory: SessionFactory,
) -> None:
    group = GroupCommit(session_factory=session_factory, lanes=1)
    await group.start()
    try:
        ids = [f"GC-A-{n:02d}" for n in range(20)]
        async with asyncio.timeout(30):
            results = await asyncio.gather(*(group.run(i, _add_station(i)) for i in ids))
        # Every caller got its own result, and it was durable by then.
        assert results == ids
        assert await _stored(session_factory, "GC-A-") == ids
        assert (group.batches, group.units, group.retried) == (1, 20, 0)
    finally:
        await group.stop()


async def test_a_unit_that_fails_fails_alone_and_leaves_nothing(
    session_factory: SessionFactory,
) -> None:
    async def fails_after_writing(db: AsyncSession) -> str:
        db.add(ChargingStation(id="GC-B-bad"))
        await db.flush()
        raise NotFound("ChargingStation", "GC-B-missing")

    group = GroupCommit(session_factory=session_factory, lanes=1)
    await group.start()
    try:
        async with asyncio.timeout(30):
            outcomes = await asyncio.gather(
                group.run("a", _add_station("GC-B-1")),
                group.run("b", fails_after_writing),
                group.run("c", _add_station("GC-B-2")),
                return_exceptions=True,
            )
        assert (outcomes[0], outcomes[2]) == ("GC-B-1", "GC-B-2")
        assert isinstance(outcomes[1], NotFound)
        assert await _stored(session_factory, "GC-B-") == ["GC-B-1", "GC-B-2"]
        assert group.retried == 3
    finally:
        await group.stop()


async def test_a_commit_that_fails_is_retried_unit_by_unit(
    session_factory: SessionFactory,
) -> None:
    """The duplicate only shows at the batch's commit: the others still commit."""
    group = GroupCommit(session_factory=session_factory, lanes=1)
    await group.start()
    try:
        await group.run("x", _add_station("GC-C-dup"))
        async with asyncio.timeout(30):
            outcomes = await asyncio.gather(
                group.run("a", _add_station("GC-C-1")),
                group.run("b", _add_station("GC-C-dup")),
                group.run("c", _add_station("GC-C-2")),
                return_exceptions=True,
            )
        assert (outcomes[0], outcomes[2]) == ("GC-C-1", "GC-C-2")
        assert isinstance(outcomes[1], IntegrityError)
        assert await _stored(session_factory, "GC-C-") == ["GC-C-1", "GC-C-2", "GC-C-dup"]
    finally:
        await group.stop()


async def test_stop_finishes_the_queued_units(session_factory: SessionFactory) -> None:
    group = GroupCommit(session_factory=session_factory, lanes=2)
    await group.start()
    ids = [f"GC-D-{n:02d}" for n in range(10)]
    runs = [asyncio.ensure_future(group.run(i, _add_station(i))) for i in ids]
    await asyncio.sleep(0)  # every run() has queued its unit
    async with asyncio.timeout(30):
        await group.stop()
        assert await asyncio.gather(*runs) == ids
    assert await _stored(session_factory, "GC-D-") == ids


@pytest.mark.parametrize("started", [False, True], ids=["not-started", "stopped"])
async def test_outside_start_and_stop_a_unit_commits_alone(
    session_factory: SessionFactory, started: bool
) -> None:
    group = GroupCommit(session_factory=session_factory)
    if started:
        await group.start()
        await group.stop()
    assert await group.run("e", _add_station("GC-E-1")) == "GC-E-1"
    assert await _stored(session_factory, "GC-E-") == ["GC-E-1"]
    assert group.batches == 0
