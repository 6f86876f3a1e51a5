"""The batching message-log writer: frames reach the table on flush and on stop."""

from sqlmodel import select

from app.db.engine import SessionFactory
from app.db.models import OcppMessageLog
from app.domain.enums import MessageDirection, MessageKind
from app.ocpp.message_log import MessageLogWriter
from app.services.message_log import LoggedFrame


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
