"""Retention: old message-log frames and old closed status/connectivity intervals are purged in
batches; recent rows and intervals still open (however old their start) are kept."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from app.db.engine import SessionFactory
from app.db.models import Evse, EvseStatusInterval, OcppMessageLog, StationConnectivityInterval
from app.domain.enums import EvseStatus, MessageDirection, MessageKind
from app.services.message_log import LoggedFrame, write_frames
from app.services.retention import Purged, RetentionPurger
from app.settings import Settings
from tests.factories import make_station

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


async def seed(factory: SessionFactory) -> int:
    """Frames 1..5 days old at 12 h steps (9 frames), intervals around the 30-day cutoff."""
    station = await make_station(factory, station_id="RT-1")
    frames = [
        LoggedFrame(station_id="RT-1", direction=MessageDirection.INBOUND, kind=MessageKind.CALL,
                    payload="[2,\"x\",\"Heartbeat\",{}]", action="Heartbeat", at=days_ago(d / 2))
        for d in range(2, 11)
    ]  # fmt: skip
    await write_frames(session_factory=factory, frames=frames)
    async with factory() as db:
        evse = (await db.exec(select(Evse).where(Evse.station_id == station.id))).one()
        assert evse.id is not None
        for status, start, end in [
            (EvseStatus.AVAILABLE, 90, 60),  # closed long ago: purged
            (EvseStatus.OUTOFORDER, 60, 31),  # closed just before the cutoff: purged
            (EvseStatus.AVAILABLE, 31, 29),  # closed after the cutoff: kept
            (EvseStatus.CHARGING, 29, None),  # open: kept
        ]:
            db.add(EvseStatusInterval(
                evse_id=evse.id, station_id="RT-1", status=status, started_at=days_ago(start),
                ended_at=days_ago(end) if end is not None else None,
            ))  # fmt: skip
        for online, start, end in [(True, 120, 50), (False, 50, 49), (True, 49, None)]:
            db.add(StationConnectivityInterval(
                station_id="RT-1", online=online, reason="CONNECTED" if online else "DISCONNECTED",
                started_at=days_ago(start),
                ended_at=days_ago(end) if end is not None else None,
            ))  # fmt: skip
        await db.commit()
        return evse.id


@pytest.mark.parametrize("batch", [1, 2, 1000], ids=["batch-1", "batch-2", "one-batch"])
async def test_purges_old_rows_and_keeps_recent_and_open_ones(
    session_factory: SessionFactory, batch: int
) -> None:
    await seed(session_factory)
    purger = RetentionPurger(
        session_factory=session_factory, message_log_days=3, status_history_days=30, batch=batch
    )
    # Frames at 1, 1.5, ..., 5 days: those older than 3 days (3.5, 4, 4.5, 5) go.
    assert await purger.purge_once(now=NOW) == Purged(messages=4, statuses=2, connectivity=2)
    async with session_factory() as db:
        frames = (await db.exec(select(OcppMessageLog.created_at))).all()
        statuses = (
            await db.exec(
                select(EvseStatusInterval.status).order_by(col(EvseStatusInterval.started_at))
            )
        ).all()
        links = (await db.exec(select(StationConnectivityInterval.ended_at))).all()
    assert sorted(frames) == [days_ago(d / 2) for d in range(6, 1, -1)]
    assert statuses == [EvseStatus.AVAILABLE, EvseStatus.CHARGING]
    assert links == [None]
    # A second pass finds nothing more.
    assert await purger.purge_once(now=NOW) == Purged(0, 0, 0)


async def test_a_pass_is_bounded_and_the_next_one_continues(
    session_factory: SessionFactory,
) -> None:
    await seed(session_factory)
    purger = RetentionPurger(
        session_factory=session_factory, message_log_days=1, status_history_days=30, batch=2,
        max_batches=2,
    )  # fmt: skip
    # 8 of the 9 frames are older than a day (the newest is exactly 1 day old: kept).
    assert (await purger.purge_once(now=NOW)).messages == 4
    assert (await purger.purge_once(now=NOW)).messages == 4
    assert (await purger.purge_once(now=NOW)).messages == 0


def test_settings_default_and_refuse_zero_days(session_factory: SessionFactory) -> None:
    settings = Settings()
    assert (settings.ocpp_message_log_retention_days, settings.status_history_retention_days) == (
        30, 400,
    )  # fmt: skip
    with pytest.raises(ValueError, match="0 / 400 days"):
        RetentionPurger(
            session_factory=session_factory, message_log_days=0, status_history_days=400
        )
