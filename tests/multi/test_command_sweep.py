"""The leader's sweep of commands whose follower died with its instance (or a restart)."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import select

from app.db.engine import SessionFactory
from app.db.models import AuditRecord, RemoteCommand
from app.events import InProcessEventBus
from app.services.command_sweep import CommandSweeper
from app.services.commands import command_topic
from tests.factories import make_station

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


async def command(db: SessionFactory, kind: str, status: str, age: timedelta, **detail: Any) -> str:
    row = RemoteCommand(
        id=str(uuid.uuid4()), kind=kind, status=status, station_id="SW-1",
        detail={"id_token": "APP1", **detail}, created_at=NOW - age,
    )  # fmt: skip
    async with db() as session:
        session.add(row)
        await session.commit()
    return row.id


async def statuses(db: SessionFactory, ids: list[str]) -> dict[str, str]:
    async with db() as session:
        return {key: (await session.get(RemoteCommand, key)).status for key in ids}  # type: ignore[union-attr]


def sweeper(db: SessionFactory, bus: InProcessEventBus) -> CommandSweeper:
    return CommandSweeper(
        session_factory=db, bus=bus, follower_deadline_s=90, operation_deadline_s=330,
        firmware_deadline_s=3630,
    )  # fmt: skip


async def test_only_starts_and_stops_live_past_the_followers_deadline_time_out(
    session_factory: SessionFactory,
) -> None:
    await make_station(session_factory, station_id="SW-1")
    old, fresh = timedelta(minutes=10), timedelta(seconds=30)
    orphan_start = await command(session_factory, "START", "PENDING", old)
    orphan_stop = await command(session_factory, "STOP", "ACCEPTED_PENDING", old)
    followed = await command(session_factory, "START", "ACCEPTED_PENDING", fresh)
    firmware = await command(
        session_factory, "UPDATE_FIRMWARE", "ACCEPTED_PENDING", old, retrieve_at=NOW.isoformat()
    )
    finished = await command(session_factory, "START", "ACCEPTED", old)
    bus = InProcessEventBus()
    sweep = sweeper(session_factory, bus)
    async with bus.subscribe(command_topic(orphan_start)) as events:
        swept = await sweep.sweep_once(now=NOW)
        delivered = events.get_nowait()
    assert delivered is not None
    topic, event = delivered
    assert sorted(swept) == sorted([orphan_start, orphan_stop])
    assert (topic, event["status"]) == (command_topic(orphan_start), "TIMEOUT")
    ids = [orphan_start, orphan_stop, followed, firmware, finished]
    assert await statuses(session_factory, ids) == {
        orphan_start: "TIMEOUT",
        orphan_stop: "TIMEOUT",
        followed: "ACCEPTED_PENDING",
        firmware: "ACCEPTED_PENDING",
        finished: "ACCEPTED",
    }
    async with session_factory() as db:
        start_row = await db.get(RemoteCommand, orphan_start)
    assert start_row is not None
    assert start_row.completed_at is not None
    assert start_row.detail == {
        "id_token": "APP1",
        "reason": "no instance followed it to an outcome",
    }
    assert await sweep.sweep_once(now=NOW) == []  # once


async def test_long_running_operations_time_out_past_their_own_window(
    session_factory: SessionFactory,
) -> None:
    """A diagnostics upload or reset past call timeout + operation window; a firmware update
    past its retrieve time + firmware window (a later retrieve time moves its deadline)."""
    await make_station(session_factory, station_id="SW-1")
    hours = timedelta(hours=1)
    upload = await command(session_factory, "UPLOAD_DIAGNOSTICS", "ACCEPTED_PENDING", hours)
    reset = await command(session_factory, "RESET", "ACCEPTED_PENDING", timedelta(minutes=10))
    young_upload = await command(
        session_factory, "UPLOAD_DIAGNOSTICS", "ACCEPTED_PENDING", timedelta(minutes=3)
    )
    firmware_due = await command(
        session_factory, "UPDATE_FIRMWARE", "ACCEPTED_PENDING", 2 * hours,
        retrieve_at=(NOW - 2 * hours).isoformat(), actor="operator:7", action="updateFirmware",
    )  # fmt: skip
    firmware_later = await command(
        session_factory, "UPDATE_FIRMWARE", "ACCEPTED_PENDING", 2 * hours,
        retrieve_at=(NOW - timedelta(minutes=30)).isoformat(),
    )  # fmt: skip
    sweep = sweeper(session_factory, InProcessEventBus())
    swept = await sweep.sweep_once(now=NOW)
    assert sorted(swept) == sorted([upload, reset, firmware_due])
    ids = [upload, reset, young_upload, firmware_due, firmware_later]
    assert await statuses(session_factory, ids) == {
        upload: "TIMEOUT",
        reset: "TIMEOUT",
        young_upload: "ACCEPTED_PENDING",
        firmware_due: "TIMEOUT",
        firmware_later: "ACCEPTED_PENDING",
    }
    async with session_factory() as db:
        audits = (await db.exec(select(AuditRecord))).all()
    # Like a follower's final word on an operation: one audit record each, by its actor.
    by_command = {a.detail["command_id"]: a for a in audits if a.detail}
    assert set(by_command) == {upload, reset, firmware_due}
    assert (by_command[firmware_due].actor, by_command[firmware_due].action) == (
        "operator:7",
        "updateFirmware",
    )
    assert by_command[firmware_due].result == "TIMEOUT"
    later = await sweep.sweep_once(now=NOW + 2 * hours)
    assert sorted(later) == sorted([young_upload, firmware_later])
