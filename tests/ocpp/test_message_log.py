"""The batching message-log writer: frames reach the table on flush and on stop."""

from datetime import UTC, datetime

from sqlmodel import select

from app.db.engine import SessionFactory
from app.db.models import ChargingStation, OcppMessageLog
from app.domain.enums import MessageDirection, MessageKind
from app.ocpp.message_log import MessageLogWriter
from app.services.message_log import LoggedFrame, write_frames
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


def test_past_the_limit_the_oldest_frames_are_dropped_and_counted(
    session_factory: SessionFactory,
) -> None:
    writer = MessageLogWriter(session_factory=session_factory, max_pending=2)
    for n in range(5):
        writer.record(_frame(n))
    assert writer.dropped == 3


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
