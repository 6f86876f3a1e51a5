"""The leader's sweep of remote starts and stops whose follower died with its instance."""

import uuid
from datetime import UTC, datetime, timedelta

from app.db.engine import SessionFactory
from app.db.models import RemoteCommand
from app.events import InProcessEventBus
from app.services.command_sweep import CommandSweeper
from app.services.commands import command_topic
from tests.factories import make_station

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


async def command(db: SessionFactory, kind: str, status: str, age: timedelta) -> str:
    row = RemoteCommand(
        id=str(uuid.uuid4()), kind=kind, status=status, station_id="SW-1",
        detail={"id_token": "APP1"}, created_at=NOW - age,
    )  # fmt: skip
    async with db() as session:
        session.add(row)
        await session.commit()
    return row.id


async def test_only_starts_and_stops_live_past_the_followers_deadline_time_out(
    session_factory: SessionFactory,
) -> None:
    await make_station(session_factory, station_id="SW-1")
    old, fresh = timedelta(minutes=10), timedelta(seconds=30)
    orphan_start = await command(session_factory, "START", "PENDING", old)
    orphan_stop = await command(session_factory, "STOP", "ACCEPTED_PENDING", old)
    followed = await command(session_factory, "START", "ACCEPTED_PENDING", fresh)
    firmware = await command(session_factory, "UPDATE_FIRMWARE", "ACCEPTED_PENDING", old)
    finished = await command(session_factory, "START", "ACCEPTED", old)
    bus = InProcessEventBus()
    sweeper = CommandSweeper(session_factory=session_factory, bus=bus, follower_deadline_s=90)
    async with bus.subscribe(command_topic(orphan_start)) as events:
        swept = await sweeper.sweep_once(now=NOW)
        topic, event = events._queue.get_nowait()
    assert sorted(swept) == sorted([orphan_start, orphan_stop])
    assert (topic, event["status"]) == (command_topic(orphan_start), "TIMEOUT")
    async with session_factory() as db:
        statuses = {
            key: (await db.get(RemoteCommand, key)).status  # type: ignore[union-attr]
            for key in (orphan_start, orphan_stop, followed, firmware, finished)
        }
        start_row = await db.get(RemoteCommand, orphan_start)
    assert statuses == {
        orphan_start: "TIMEOUT",
        orphan_stop: "TIMEOUT",
        followed: "ACCEPTED_PENDING",
        firmware: "ACCEPTED_PENDING",
        finished: "ACCEPTED",
    }
    assert start_row is not None
    assert start_row.completed_at is not None
    assert start_row.detail == {
        "id_token": "APP1",
        "reason": "no instance followed it to an outcome",
    }
    assert await sweeper.sweep_once(now=NOW) == []  # once
