"""MeterValues read and write a session's totals as a row (`live_sessions`), without the ORM:
the row ends exactly as the ORM path would leave it, in every order a batch can hold."""

import asyncio
from datetime import timedelta

from sqlmodel import func, select

from app.db.engine import SessionFactory
from app.db.models import ChargingSession, MeterSample
from app.domain.enums import SessionStatus
from app.events import InProcessEventBus, topics
from app.services import live_cost, live_sessions, transactions
from app.services.group_commit import GroupCommit
from tests.services.test_live_cost import (
    T0,
    full_price,
    priced_with_bogus_row,
    readings_at,
    send,
    start,
)

#: 1900 Wh (900 Wh since the start) at 11 kW, five minutes in.
AT_5_MIN = readings_at(T0 + timedelta(minutes=5), 1900, 11_000, phases=False)


async def _session(session_factory: SessionFactory, tx: str) -> ChargingSession:
    async with session_factory() as db:
        session = await db.get(ChargingSession, int(tx))
        assert session is not None
        return session


async def _samples(session_factory: SessionFactory, tx: str) -> int:
    async with session_factory() as db:
        statement = select(func.count()).where(MeterSample.session_id == int(tx))
        return int((await db.exec(statement)).one())


async def test_a_meter_value_writes_totals_cost_and_time_and_publishes_them(
    session_factory: SessionFactory,
) -> None:
    bus = InProcessEventBus()
    station, tx = await start(session_factory, bus)
    before = await _session(session_factory, tx)
    async with bus.subscribe(topics.session_updated(int(tx))) as events:
        await send(session_factory, bus, station, tx, AT_5_MIN)
        async with asyncio.timeout(5):
            _, event = await events.get()
    after = await _session(session_factory, tx)
    assert (after.energy_wh, after.power_w, after.last_meter_at) == (
        900,
        11_000,
        T0 + timedelta(minutes=5),
    )
    assert after.updated_at > before.updated_at
    live, full = await full_price(session_factory, tx)
    assert live == full > 0
    assert (event["energy_wh"], event["power_w"], event["status"]) == (900, 11_000, "ACTIVE")


async def test_a_session_held_as_an_orm_object_is_not_read_as_a_row(
    session_factory: SessionFactory,
) -> None:
    bus = InProcessEventBus()
    station, tx = await start(session_factory, bus)
    async with session_factory() as db:
        row = await live_sessions.find(db, station_id=station, transaction_id=tx)
        assert row is not None
        assert row.id == int(tx)
        assert row.status == SessionStatus.ACTIVE
        held = await db.get(ChargingSession, int(tx))  # the identity map is weak: keep it
        # Its ORM object may hold unflushed changes a Core UPDATE would overwrite or miss.
        assert await live_sessions.find(db, station_id=station, transaction_id=tx) is None
        assert held is not None
    async with session_factory() as db:
        assert await live_sessions.find(db, station_id=station, transaction_id="9" + tx) is None


async def test_a_meter_value_after_the_stop_is_stored_and_changes_nothing(
    session_factory: SessionFactory,
) -> None:
    bus = InProcessEventBus()
    station, tx = await start(session_factory, bus, AT_5_MIN)
    await transactions.stop_session(
        session_factory=session_factory,
        bus=bus,
        station_id=station,
        transaction_id=tx,
        meter_stop_wh=2000,
        ended_at=T0 + timedelta(minutes=6),
    )
    stopped = await _session(session_factory, tx)
    after_stop = readings_at(T0 + timedelta(minutes=7), 2500, 11_000, phases=False)
    await send(session_factory, bus, station, tx, after_stop)
    late = await _session(session_factory, tx)
    assert late.status == SessionStatus.COMPLETED
    assert (late.energy_wh, late.power_w, late.cost_incl_vat_minor, late.updated_at) == (
        stopped.energy_wh,
        stopped.power_w,
        stopped.cost_incl_vat_minor,
        stopped.updated_at,
    )
    assert await _samples(session_factory, tx) == 4


async def test_a_meter_value_and_the_stop_in_one_batch_end_the_session_exactly(
    session_factory: SessionFactory,
) -> None:
    """Both orders: the stop after the row's UPDATE reads it; a meter value after the stop's
    unflushed ORM change goes the ORM way and sees the session ended."""
    for stop_first in (False, True):
        bus = InProcessEventBus()
        station, tx = await start(session_factory, bus)
        group = GroupCommit(session_factory=session_factory, lanes=1)
        await group.start()
        try:
            meter = transactions.record_meter_values(
                session_factory=session_factory,
                bus=bus,
                station_id=station,
                ocpp_evse_id=1,
                transaction_id=tx,
                readings=(AT_5_MIN,),
                group=group,
            )
            stop = transactions.stop_session(
                session_factory=session_factory,
                bus=bus,
                station_id=station,
                transaction_id=tx,
                meter_stop_wh=2000,
                ended_at=T0 + timedelta(minutes=6),
                group=group,
            )
            async with asyncio.timeout(30):
                await asyncio.gather(*((stop, meter) if stop_first else (meter, stop)))
        finally:
            await group.stop()
        assert group.batches == 1, "both units must share one transaction"
        ended = await _session(session_factory, tx)
        assert ended.status == SessionStatus.COMPLETED
        assert ended.energy_wh == 1000
        assert ended.power_w == 0
        assert await _samples(session_factory, tx) == 2
        if not stop_first:  # the reading was applied before the stop: the last point is 5 min
            assert ended.last_meter_at == T0 + timedelta(minutes=5)


async def test_a_state_priced_in_a_rolled_back_transaction_is_not_kept_by_a_later_commit(
    session_factory: SessionFactory,
) -> None:
    bus = InProcessEventBus()
    async with session_factory() as db:
        _, tx, session = await priced_with_bogus_row(session_factory, bus, db)
        key = (session.tariff_id, T0, 1000)
        await db.rollback()
        await db.commit()  # the same database session commits again, with nothing priced
    kept = live_cost.CACHE.get(int(tx), key)
    assert kept is not None
    assert kept.last_row_at == T0 + timedelta(minutes=1)
