"""Live cost and CDRs, through the OCPP transaction services: 1.6 and 2.0.1 sessions."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from app.db.engine import SessionFactory
from app.db.models import Cdr, ChargingSession, Driver, IdToken
from app.domain.enums import SessionStatus
from app.domain.errors import NotFound
from app.domain.metering import MeterReading, SampledValue
from app.domain.tariffs import MeterSample, periods_from_meter, price_session
from app.events import InProcessEventBus
from app.services import receipts, tariffs, transactions
from app.services.demo import create_demo_tariffs
from app.services.transactions import TransactionEventData, TransactionEventType
from tests.factories import make_location, make_station

T0 = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)  # 18:00 in Amsterdam
START_WH = 1000


def reading(at: datetime, register_wh: int, power_w: int) -> MeterReading:
    return MeterReading(
        at,
        (
            SampledValue("Energy.Active.Import.Register", register_wh, "Wh"),
            SampledValue("Power.Active.Import", power_w, "W"),
            SampledValue("SoC", 50, "Percent"),
        ),
    )


def profile(minutes: int, charging_minutes: int) -> list[tuple[datetime, int, int]]:
    """(time, register, power) each minute: 11 kW (183 Wh/min) for a while, then idle."""
    out = []
    for m in range(1, minutes + 1):
        charging = m <= charging_minutes
        register = START_WH + 183 * min(m, charging_minutes)
        out.append((T0 + timedelta(minutes=m), register, 11_000 if charging else 0))
    return out


async def make_driver(session_factory: SessionFactory, uid: str) -> int:
    async with session_factory() as db:
        driver = Driver(email=f"{uid.lower()}@example.com", password_hash="x")
        db.add(driver)
        await db.flush()
        db.add(IdToken(uid=uid, driver_id=driver.id))
        await db.commit()
        assert driver.id is not None
        return driver.id


async def priced_station(session_factory: SessionFactory, *, dc: bool) -> str:
    location = await make_location(session_factory)
    station = await make_station(session_factory, location=location)
    ac, dc_tariff = await create_demo_tariffs(session_factory=session_factory)
    await tariffs.assign_tariff(
        session_factory=session_factory,
        tariff_id=(dc_tariff if dc else ac).id,
        station_ids=[station.id],
    )
    return station.id


def expected_cost(tariff_row_tariff: object, points: list[tuple[datetime, int, int]]) -> int:
    samples = [MeterSample(T0, START_WH, 0)] + [MeterSample(t, e, p) for t, e, p in points]
    cost = price_session(
        tariff_row_tariff,  # type: ignore[arg-type]
        periods_from_meter(samples),
        time_zone="Europe/Amsterdam",
    )
    return cost.total_incl_vat


async def session_row(session_factory: SessionFactory, session_id: int) -> ChargingSession:
    async with session_factory() as db:
        row = await db.get(ChargingSession, session_id)
        assert row is not None
        return row


async def test_ocpp16_session_live_cost_rises_and_cdr_prices_the_meter_values(
    session_factory: SessionFactory,
) -> None:
    station_id = await priced_station(session_factory, dc=False)
    driver_id = await make_driver(session_factory, "CARD16")
    bus = InProcessEventBus()
    started = await transactions.start_session(
        session_factory=session_factory,
        bus=bus,
        station_id=station_id,
        ocpp_evse_id=1,
        id_token="card16",
        meter_start_wh=START_WH,
        started_at=T0,
    )
    points = profile(minutes=80, charging_minutes=50)
    costs = []
    for at, register, power in points:
        await transactions.record_meter_values(
            session_factory=session_factory,
            bus=bus,
            station_id=station_id,
            ocpp_evse_id=1,
            transaction_id=started.transaction_id,
            readings=(reading(at, register, power),),
        )
        costs.append((await session_row(session_factory, started.session_id)).cost_incl_vat_minor)
    assert costs[0] is not None
    assert costs[0] > 0
    assert costs[49] > costs[10] > costs[0]  # type: ignore[operator]
    assert costs[58] == costs[49]  # idle, but within the free first hour (18:50-18:59)
    assert costs[-1] > costs[58]  # type: ignore[operator]  # idle fee after 19:00
    end = T0 + timedelta(minutes=80)
    for _ in range(2):  # a retransmitted stop writes no second CDR
        await transactions.stop_session(
            session_factory=session_factory,
            bus=bus,
            station_id=station_id,
            transaction_id=started.transaction_id,
            meter_stop_wh=points[-1][1],
            ended_at=end,
            reason="EVDisconnected",
        )
    async with session_factory() as db:
        cdrs = (await db.exec(select(Cdr))).all()
    assert len(cdrs) == 1
    cdr = cdrs[0]
    session = await session_row(session_factory, started.session_id)
    tariff = tariffs.tariff_from_snapshot(cdr.tariff or {})
    # AC: 50 x 183 Wh = 9.15 kWh x 0.39 = 3.5685 -> 3.57 excl., VAT 0.749385 -> 0.75;
    # idle after 19:00 until 19:20: 20 min x 6.00/h = 2.00 excl., VAT 0.42 -> 6.74 in all
    assert expected_cost(tariff, points) == 674
    assert (cdr.total_excl_vat_minor, cdr.total_vat_minor, cdr.total_incl_vat_minor) == (
        557,
        117,
        674,
    )
    assert session.cost_incl_vat_minor == cdr.total_incl_vat_minor
    assert session.status == SessionStatus.COMPLETED
    assert (cdr.energy_wh, cdr.charging_time_s, cdr.idle_time_s) == (9150, 3000, 1800)
    assert cdr.cost_breakdown["parking_time"]["billed_quantity"] == 1200
    assert (cdr.driver_id, cdr.id_token, cdr.stop_reason) == (driver_id, "card16", "EVDisconnected")
    assert cdr.currency == "EUR"
    assert cdr.receipt_token
    assert [p["charging"] for p in cdr.charging_periods] == [True, False, False]
    receipt = await receipts.get_receipt(
        session_factory=session_factory, driver_id=driver_id, session_id=started.session_id
    )
    assert receipt.id == cdr.id
    other = await make_driver(session_factory, "OTHER")
    with pytest.raises(NotFound):
        await receipts.get_receipt(
            session_factory=session_factory, driver_id=other, session_id=started.session_id
        )


async def test_ocpp201_session_cdr_equals_the_tariff_on_the_meter_values(
    session_factory: SessionFactory,
) -> None:
    station_id = await priced_station(session_factory, dc=True)
    bus = InProcessEventBus()
    points = profile(minutes=30, charging_minutes=25)
    events = [
        TransactionEventData(
            TransactionEventType.STARTED,
            "tx-201",
            0,
            T0,
            ocpp_evse_id=1,
            id_token="RFID201",
            readings=(reading(T0, START_WH, 0),),
        ),
        *(
            TransactionEventData(
                TransactionEventType.UPDATED, "tx-201", i + 1, at, readings=(reading(at, e, p),)
            )
            for i, (at, e, p) in enumerate(points[:-1])
        ),
    ]
    last_at, last_e, last_p = points[-1]
    ended = TransactionEventData(
        TransactionEventType.ENDED,
        "tx-201",
        len(points),
        last_at,
        stopped_reason="Remote",
        readings=(reading(last_at, last_e, last_p),),
    )
    for event in [*events, ended, ended]:
        await transactions.apply_transaction_event(
            session_factory=session_factory, bus=bus, station_id=station_id, event=event
        )
    async with session_factory() as db:
        cdrs = (await db.exec(select(Cdr))).all()
        session = (await db.exec(select(ChargingSession))).one()
    assert len(cdrs) == 1
    cdr = cdrs[0]
    tariff = tariffs.tariff_from_snapshot(cdr.tariff or {})
    # DC: 25 x 183 Wh = 4.575 kWh x 0.59 = 2.69925 -> 2.70 excl., VAT 0.5668425 -> 0.57;
    # session fee 1.00 + 0.21 VAT: 4.48 in all
    assert expected_cost(tariff, points) == 448
    assert cdr.total_incl_vat_minor == 448
    assert session.cost_incl_vat_minor == 448
    assert (cdr.energy_wh, cdr.idle_time_s, cdr.stop_reason) == (4575, 300, "Remote")
    assert cdr.cost_breakdown["flat"]["incl_vat_minor"] == 121


async def test_session_without_tariff_gets_a_zero_cost_cdr_in_eur(
    session_factory: SessionFactory,
) -> None:
    station = await make_station(session_factory)
    bus = InProcessEventBus()
    started = await transactions.start_session(
        session_factory=session_factory,
        bus=bus,
        station_id=station.id,
        ocpp_evse_id=1,
        id_token=None,
        meter_start_wh=0,
        started_at=T0,
    )
    await transactions.stop_session(
        session_factory=session_factory,
        bus=bus,
        station_id=station.id,
        transaction_id=started.transaction_id,
        meter_stop_wh=5000,
        ended_at=T0 + timedelta(hours=1),
        reason="Local",
    )
    async with session_factory() as db:
        cdr = (await db.exec(select(Cdr))).one()
    session = await session_row(session_factory, started.session_id)
    assert (cdr.total_incl_vat_minor, cdr.currency, cdr.tariff) == (0, "EUR", None)
    assert (cdr.energy_wh, cdr.charging_time_s) == (5000, 3600)
    assert cdr.charging_periods[0]["dimensions"][0] == {"type": "ENERGY", "volume": "5"}
    assert (session.cost_incl_vat_minor, session.currency) == (0, "EUR")
