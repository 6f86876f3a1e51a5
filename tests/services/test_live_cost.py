"""The running live cost equals a full re-pricing of the session after every meter value."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.engine import SessionFactory
from app.db.models import ChargingSession, MeterSample
from app.domain.metering import MeterReading, SampledValue
from app.domain.tariffs import price_session
from app.events import InProcessEventBus
from app.services import live_cost, pricing, transactions
from app.services.group_commit import GroupCommit
from app.services.session_timeline import energy_samples, session_segments, to_periods
from tests.factories import make_priced_session

T0 = datetime(2026, 3, 2, 20, 40, tzinfo=UTC)  # 21:40 in Amsterdam: crosses the 22:00 rate
ZONE = "Europe/Amsterdam"
NIGHT_RATE: list[dict[str, Any]] = [
    {
        "price_components": [{"type": "ENERGY", "price": "0.25", "step_size": 100}],
        "restrictions": {"start_time": "22:00", "end_time": "06:00"},
    },
    {
        "price_components": [{"type": "TIME", "price": "1.20", "step_size": 60}],
        "restrictions": {"min_power": 7, "min_duration": 1200},
    },
    {"price_components": [{"type": "ENERGY", "price": "0.39", "vat": "21"}]},
    {"price_components": [{"type": "PARKING_TIME", "price": "6", "step_size": 60}]},
]


def readings_at(at: datetime, register: int, power: int, *, phases: bool) -> MeterReading:
    values = [SampledValue("Energy.Active.Import.Register", float(register), "Wh")]
    if phases:  # power per phase only: the total is their sum
        values += [SampledValue("Power.Active.Import", power / 3, "W", phase=p) for p in "123"]
        values = [v if v.phase is None else _phase(v) for v in values]
    else:
        values.append(SampledValue("Power.Active.Import", float(power), "W"))
    return MeterReading(at, tuple(values))


def _phase(value: SampledValue) -> SampledValue:
    return SampledValue(value.measurand, value.value, value.unit, phase=f"L{value.phase}")


async def start(
    session_factory: SessionFactory, bus: InProcessEventBus, *readings: MeterReading
) -> tuple[str, str]:
    """A session under `NIGHT_RATE` from T0 at 1000 Wh in `ZONE`, sent `readings` (in one
    MeterValues) if any: (station id, transaction id)."""
    return await make_priced_session(
        session_factory,
        bus=bus,
        tariff_elements=NIGHT_RATE,
        started_at=T0,
        time_zone=ZONE,
        readings=readings,
    )


async def send(
    session_factory: SessionFactory, bus: InProcessEventBus, station: str, tx: str, *r: MeterReading
) -> None:
    await transactions.record_meter_values(
        session_factory=session_factory,
        bus=bus,
        station_id=station,
        ocpp_evse_id=1,
        transaction_id=tx,
        readings=r,
    )


async def full_price(session_factory: SessionFactory, tx: str) -> tuple[int, int]:
    """(stored live cost, the whole timeline priced without compaction) of session `tx`."""
    async with session_factory() as db:
        session = await db.get(ChargingSession, int(tx))
        assert session is not None
        assert session.tariff_id is not None
        tariff, _ = await pricing.session_cost(db, session)
        assert tariff is not None
        segments = session_segments(session, await energy_samples(db, int(tx)))
        cost = price_session(tariff, to_periods(segments), time_zone=ZONE)
        return session.cost_incl_vat_minor or 0, cost.total_incl_vat


async def priced_with_bogus_row(
    session_factory: SessionFactory, bus: InProcessEventBus, db: AsyncSession
) -> tuple[str, str, ChargingSession]:
    """A session priced up to T0 + 1 min (1180 Wh); then, in `db` and not committed, a bogus
    99,000 Wh register row at T0 + 2 min, priced in: (station id, transaction id, the session
    as `db` holds it). For the tests that roll `db` back."""
    first = readings_at(T0 + timedelta(minutes=1), 1180, 11_000, phases=False)
    station, tx = await start(session_factory, bus, first)
    session = await db.get(ChargingSession, int(tx))
    assert session is not None
    db.add(
        MeterSample(
            session_id=session.id, evse_id=session.evse_id, station_id=station,
            sampled_at=T0 + timedelta(minutes=2), measurand="Energy.Active.Import.Register",
            value=99_000.0, unit="Wh",
        )
    )  # fmt: skip
    await pricing.update_live_cost(db, session)
    return station, tx, session


async def test_live_cost_equals_full_repricing_after_every_message(
    session_factory: SessionFactory,
) -> None:
    bus = InProcessEventBus()
    rebuilds = live_cost.CACHE.rebuilds
    station, tx = await start(session_factory, bus)
    register = 1000
    for i in range(1, 101):
        at = T0 + timedelta(seconds=15 * i)
        power = 0 if i % 13 == 0 or i > 80 else (i * 7919) % 11_000
        register += power * 15 // 3600
        await send(
            session_factory, bus, station, tx, readings_at(at, register, power, phases=i % 5 == 0)
        )
        if i % 7 == 0:  # a second message for the same instant: the register moved on
            register += 3
            await send(
                session_factory, bus, station, tx, readings_at(at, register, power, phases=False)
            )
        live, full = await full_price(session_factory, tx)
        assert live == full, f"message {i}: live {live} != full {full}"
    assert full > 0
    # One build from all rows when the session started, then only the new rows each time.
    assert live_cost.CACHE.rebuilds == rebuilds + 1


async def test_a_late_older_reading_is_priced_like_a_full_read(
    session_factory: SessionFactory,
) -> None:
    bus = InProcessEventBus()
    station, tx = await start(session_factory, bus)
    for i in (1, 2, 3, 5, 6):
        at = T0 + timedelta(minutes=i)
        await send(
            session_factory, bus, station, tx, readings_at(at, 1000 + 180 * i, 11_000, phases=False)
        )
    rebuilds = live_cost.CACHE.rebuilds
    late = readings_at(T0 + timedelta(minutes=4), 1000 + 180 * 4, 0, phases=False)
    await send(session_factory, bus, station, tx, late)  # stored; totals do not move back
    after = readings_at(T0 + timedelta(minutes=7), 1000 + 180 * 7, 11_000, phases=False)
    await send(session_factory, bus, station, tx, after)  # priced with the late row in place
    async with session_factory() as db:
        rows = (await db.exec(select(MeterSample).where(MeterSample.session_id == int(tx)))).all()
    assert len(rows) == 14
    live, full = await full_price(session_factory, tx)
    assert live == full
    assert live_cost.CACHE.rebuilds == rebuilds + 1


async def test_a_rolled_back_message_leaves_nothing_in_the_running_state(
    session_factory: SessionFactory,
) -> None:
    bus = InProcessEventBus()
    async with session_factory() as db:
        station, tx, session = await priced_with_bogus_row(session_factory, bus, db)
        key = (session.tariff_id, T0, 1000)
        assert session.cost_incl_vat_minor is not None
        assert session.cost_incl_vat_minor > 4000  # the bogus 98 kWh was priced in
        await db.rollback()
    kept = live_cost.CACHE.get(int(tx), key)
    assert kept is not None
    assert kept.last_row_at == T0 + timedelta(minutes=1)  # the rolled-back row is not in it
    await send(
        session_factory,
        bus,
        station,
        tx,
        readings_at(T0 + timedelta(minutes=2), 1360, 11_000, phases=False),
    )
    live, full = await full_price(session_factory, tx)
    assert live == full
    assert live < 4000
    assert ZoneInfo(ZONE)  # the zone the location was given is a real one


async def test_meter_values_batched_in_one_transaction_are_priced_like_a_full_read(
    session_factory: SessionFactory,
) -> None:
    """Several meter values of one session in one group-commit batch: each is priced on the
    rows of the ones before it (not yet committed), and the session row holds the last."""
    bus = InProcessEventBus()
    station, tx = await start(session_factory, bus)
    group = GroupCommit(session_factory=session_factory, lanes=1)
    await group.start()
    try:
        for burst in range(3):
            await asyncio.gather(
                *(
                    transactions.record_meter_values(
                        session_factory=session_factory, bus=bus, station_id=station,
                        ocpp_evse_id=1, transaction_id=tx, group=group,
                        readings=(readings_at(T0 + timedelta(minutes=m), 1000 + 180 * m, 11_000,
                                              phases=m % 2 == 0),),
                    )
                    for m in range(1 + 4 * burst, 5 + 4 * burst)
                )
            )  # fmt: skip
    finally:
        await group.stop()
    assert group.batches < group.units  # some meter values did share a transaction
    live, full = await full_price(session_factory, tx)
    assert live == full
    async with session_factory() as db:
        session = await db.get(ChargingSession, int(tx))
        assert session is not None
        assert (session.energy_wh, session.last_meter_at) == (180 * 12, T0 + timedelta(minutes=12))
