"""The batching message-log writer: frames reach the table on flush and on stop; a write
that fails for a passing reason loses nothing, a frame the database refuses only itself."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import select

from app.db.engine import SessionFactory, create_session_factory
from app.db.models import ChargingStation, OcppMessageLog
from app.domain.enums import MessageDirection, MessageKind
from app.ocpp.message_log import MessageLogWriter
from app.services.message_log import LoggedFrame, write_frames
from app.settings import Settings
from tests.factories import make_station


def _frame(n: int) -> LoggedFrame:
    return LoggedFrame(
        station_id="CS-LOG",
        direction=MessageDirection.INBOUND,
        kind=MessageKind.INVALID,
        payload=f"frame {n} with a NUL \x00",
    )


async def test_frames_are_written_in_batches_and_on_stop(session_factory: SessionFactory) -> None:
    writer = MessageLogWriter(session_factory=session_factory, flush_interval_s=60, max_batch=3)
    await writer.start()
    for n in range(7):
        writer.record(_frame(n))
    await writer.flush()
    writer.record(_frame(7))
    await writer.stop()
    async with session_factory() as db:
        rows = (await db.exec(select(OcppMessageLog).order_by(OcppMessageLog.id))).all()
    assert [row.payload.split(" ")[1] for row in rows] == [str(n) for n in range(8)]
    assert writer.written == 8
    assert writer.dropped == 0


async def _payload_numbers(session_factory: SessionFactory) -> list[str]:
    async with session_factory() as db:
        rows = (await db.exec(select(OcppMessageLog).order_by(OcppMessageLog.id))).all()
    return [row.payload.split(" ")[1] for row in rows]


async def test_past_the_limit_the_oldest_frames_are_dropped_counted_and_logged(
    session_factory: SessionFactory, caplog: pytest.LogCaptureFixture
) -> None:
    writer = MessageLogWriter(session_factory=session_factory, max_pending=2)
    for n in range(5):
        writer.record(_frame(n))
    assert writer.dropped == 3
    with caplog.at_level(logging.WARNING, logger="app.ocpp.message_log"):
        assert await writer.flush() is True
    assert "dropped the 3 oldest unwritten frames" in caplog.text
    assert await _payload_numbers(session_factory) == ["3", "4"]


@asynccontextmanager
async def _one_connection_pool(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """An engine whose pool has one connection and waits 0.1 s for it: holding that one is a
    reconnect storm's handshakes holding every pooled connection (the bench's lost frame)."""
    engine = create_async_engine(
        settings.database_url, pool_size=1, max_overflow=0, pool_timeout=0.1
    )
    try:
        yield engine
    finally:
        await engine.dispose()


async def test_a_write_without_a_pooled_connection_in_time_loses_no_frame(
    settings: Settings, session_factory: SessionFactory
) -> None:
    async with _one_connection_pool(settings) as engine:
        writer = MessageLogWriter(session_factory=create_session_factory(engine), max_batch=2)
        for n in range(5):
            writer.record(_frame(n))
        async with engine.connect() as busy:
            await busy.execute(sa.text("SELECT 1"))
            await writer.flush()  # every pooled connection taken: the write times out
        assert (writer.dropped, writer.written) == (0, 0)  # the old writer dropped all 5
        writer.record(_frame(5))
        await writer.flush()
    assert await _payload_numbers(session_factory) == [str(n) for n in range(6)]
    assert (writer.dropped, writer.written, writer.pending) == (0, 6, 0)


async def test_a_running_writer_keeps_failed_frames_until_stop_writes_them(
    settings: Settings, session_factory: SessionFactory
) -> None:
    async with _one_connection_pool(settings) as engine:
        writer = MessageLogWriter(
            session_factory=create_session_factory(engine), flush_interval_s=0.01, max_batch=2
        )
        await writer.start()
        async with engine.connect() as busy:
            await busy.execute(sa.text("SELECT 1"))
            for n in range(3):
                writer.record(_frame(n))
            assert await writer.flush() is False
        await writer.stop()
    assert await _payload_numbers(session_factory) == ["0", "1", "2"]
    assert (writer.dropped, writer.written) == (0, 3)


async def test_a_frame_the_database_refuses_is_dropped_alone(
    session_factory: SessionFactory,
) -> None:
    writer = MessageLogWriter(session_factory=session_factory, max_batch=10)
    naive = LoggedFrame(
        station_id="CS-LOG",
        direction=MessageDirection.INBOUND,
        kind=MessageKind.INVALID,
        payload="frame bad",
        at=datetime(2026, 12, 8, 4, 0),  # no zone: UtcDateTime refuses it
    )
    for frame in (_frame(0), naive, _frame(2)):
        writer.record(frame)
    assert await writer.flush() is True
    assert await _payload_numbers(session_factory) == ["0", "2"]
    assert (writer.dropped, writer.written, writer.pending) == (1, 2, 0)


async def test_stop_counts_what_the_database_would_not_take(settings: Settings) -> None:
    async with _one_connection_pool(settings) as engine:
        writer = MessageLogWriter(session_factory=create_session_factory(engine))
        writer.record(_frame(0))
        async with engine.connect() as busy:
            await busy.execute(sa.text("SELECT 1"))
            await writer.stop()
    assert (writer.dropped, writer.written, writer.pending) == (1, 0, 0)


def _at(station_id: str, direction: MessageDirection, second: int) -> LoggedFrame:
    return LoggedFrame(
        station_id=station_id,
        direction=direction,
        kind=MessageKind.CALL,
        payload='[2,"1","Heartbeat",{}]',
        at=datetime(2026, 11, 27, 3, 0, second, tzinfo=UTC),
    )


async def _last_message_at(session_factory: SessionFactory, station_id: str) -> datetime | None:
    async with session_factory() as db:
        station = await db.get(ChargingStation, station_id)
        assert station is not None
        return station.last_message_at


async def test_a_batch_moves_each_station_last_message_at_to_its_newest_inbound_frame(
    session_factory: SessionFactory,
) -> None:
    one = await make_station(session_factory)
    two = await make_station(session_factory)
    silent = await make_station(session_factory)
    inbound, outbound = MessageDirection.INBOUND, MessageDirection.OUTBOUND
    await write_frames(
        session_factory=session_factory,
        frames=[
            _at(one.id, inbound, 5),
            _at(one.id, inbound, 9),
            _at(one.id, inbound, 7),
            _at(two.id, inbound, 3),
            _at(two.id, outbound, 30),  # what the CSMS sends says nothing about the station
            _at(silent.id, outbound, 40),
        ],
    )
    assert await _last_message_at(session_factory, one.id) == _at(one.id, inbound, 9).at
    assert await _last_message_at(session_factory, two.id) == _at(two.id, inbound, 3).at
    assert await _last_message_at(session_factory, silent.id) is None

    # A batch committed late (another instance) never moves it backwards.
    await write_frames(
        session_factory=session_factory,
        frames=[_at(one.id, inbound, 1), _at(two.id, inbound, 4)],
    )
    assert await _last_message_at(session_factory, one.id) == _at(one.id, inbound, 9).at
    assert await _last_message_at(session_factory, two.id) == _at(two.id, inbound, 4).at
