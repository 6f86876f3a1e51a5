"""SQLite's one write lock: the group commit's batches and the message-log writer take turns
in-process (`write_turn`) instead of meeting on the lock, whose busy handler sleeps between
tries. PostgreSQL locks rows, so there the turn is no turn at all."""

import asyncio

from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.engine import SessionFactory
from app.services.group_commit import GroupCommit


async def _batch_ran_while_turn_held(session_factory: SessionFactory) -> tuple[bool, bool]:
    """(the unit ran while another writer held the turn, it ran once the turn was free)."""
    ran = asyncio.Event()

    async def work(db: AsyncSession) -> int:
        ran.set()
        return 1

    group = GroupCommit(session_factory=session_factory, lanes=1)
    await group.start()
    try:
        async with group.write_turn():
            unit = asyncio.create_task(group.run("TURN-1", work))
            for _ in range(50):  # plenty of loop turns for the lane to reach its work
                await asyncio.sleep(0)
            during = ran.is_set()
        async with asyncio.timeout(30):
            assert await unit == 1
        return during, ran.is_set()
    finally:
        await group.stop()


async def test_a_batch_waits_for_the_write_turn_on_sqlite_only(
    session_factory: SessionFactory,
) -> None:
    during, after = await _batch_ran_while_turn_held(session_factory)
    sqlite = session_factory.kw["bind"].dialect.name == "sqlite"
    assert during is not sqlite  # SQLite: held back; PostgreSQL: not held at all
    assert after
