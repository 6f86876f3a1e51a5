"""The OCPI 2.2.1 pricing engine: dimensions, step sizes, VAT, limits, restrictions, currencies."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.errors import InvalidInput
from app.domain.tariffs import (
    ChargingPeriod,
    DayOfWeek,
    MeterSample,
    Price,
    PriceComponent,
    PriceLimit,
    SessionCost,
    Tariff,
    TariffDimension,
    TariffElement,
    TariffRestrictions,
    describe_tariff,
    estimate_cost,
    periods_from_meter,
    price_session,
)

D = Decimal
ENERGY, TIME, PARKING, FLAT = (
    TariffDimension.ENERGY,
    TariffDimension.TIME,
    TariffDimension.PARKING_TIME,
    TariffDimension.FLAT,
)
AMS = "Europe/Amsterdam"
WEEKDAYS = frozenset(
    {DayOfWeek.MONDAY, DayOfWeek.TUESDAY, DayOfWeek.WEDNESDAY, DayOfWeek.THURSDAY, DayOfWeek.FRIDAY}
)
WEEKEND = frozenset({DayOfWeek.SATURDAY, DayOfWeek.SUNDAY})


def pc(type: TariffDimension, price: str, step: int = 1, vat: str | None = None) -> PriceComponent:
    return PriceComponent(type, D(price), step, D(vat) if vat is not None else None)


def el(*components: PriceComponent, **restrictions: object) -> TariffElement:
    rules = TariffRestrictions(**restrictions) if restrictions else None  # type: ignore[arg-type]
    return TariffElement(components, rules)


def tariff(*elements: TariffElement, currency: str = "EUR", **fields: object) -> Tariff:
    return Tariff("T1", currency, elements, **fields)  # type: ignore[arg-type]


def local(text: str, zone: str = AMS) -> datetime:
    """A local wall-clock time at the location, as UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def timeline(
    start: datetime, *parts: tuple[float, int] | tuple[float, int, int]
) -> list[ChargingPeriod]:
    """Contiguous periods of (minutes, energy Wh[, power W]); no energy means idle."""
    periods, at = [], start
    for minutes, energy_wh, *power in parts:
        end = at + timedelta(minutes=minutes)
        periods.append(
            ChargingPeriod(at, end, energy_wh, energy_wh > 0, power[0] if power else None)
        )
        at = end
    return periods


def totals(cost: SessionCost) -> tuple[int, int, int]:
    return cost.total_excl_vat, cost.total_vat, cost.total_incl_vat


NOON = local("2024-06-10T12:00")  # a Monday in summer time


@pytest.mark.parametrize(
    ("elements", "parts", "expected"),
    [
        # 20 kWh x 0.25 = 5.00; VAT 10% = 0.50 (OCPI's simple tariff example)
        ([el(pc(ENERGY, "0.25", vat="10"))], [(60, 20_000)], (500, 50, 550)),
        # flat 0.50 + 20% = 0.10; energy 5.00 + 10% = 0.50 -> 5.50 / 0.60 / 6.10 (OCPI example)
        (
            [el(pc(FLAT, "0.50", vat="20")), el(pc(ENERGY, "0.25", vat="10"))],
            [(60, 20_000)],
            (550, 60, 610),
        ),
        # 2.5 h x 2.00/h = 5.00; VAT 10% = 0.50 (OCPI's 2 euro per hour example)
        ([el(pc(TIME, "2.00", 60, "10"))], [(150, 30_000)], (500, 50, 550)),
        # a TIME-only tariff does not bill the idle 40 min: still 2.5 h x 2.00 = 5.00
        ([el(pc(TIME, "2.00", 60, "10"))], [(150, 30_000), (40, 0)], (500, 50, 550)),
        # 150 min x 3.00/h = 7.50 (+0.75); 42 min parked -> 45 min x 5.00/h = 3.75 (+20% = 0.75)
        # = 11.25 / 1.50 / 12.75 (OCPI's 3 euro per hour, 5 euro parking example)
        (
            [el(pc(TIME, "3.00", 60, "10"), pc(PARKING, "5.00", 300, "20"))],
            [(150, 30_000), (42, 0)],
            (1125, 150, 1275),
        ),
        # a flat fee alone: 1.00 + 21% = 1.21, whatever the session
        ([el(pc(FLAT, "1.00", vat="21"))], [(10, 500), (300, 0)], (100, 21, 121)),
        # idle fee: 11 kWh x 0.30 = 3.30; 25 idle min x 6.00/h = 2.50 -> 5.80, no VAT
        (
            [el(pc(ENERGY, "0.30"), pc(PARKING, "6.00", 60))],
            [(60, 11_000), (25, 0)],
            (580, 0, 580),
        ),
    ],
    ids=["energy", "energy-flat", "time", "time-ignores-idle", "time-parking", "flat", "idle-fee"],
)
def test_each_dimension_is_billed(
    elements: list[TariffElement], parts: list[tuple[float, int]], expected: tuple[int, int, int]
) -> None:
    cost = price_session(tariff(*elements), timeline(NOON, *parts), time_zone=AMS)
    assert totals(cost) == expected


def test_idle_time_comes_from_a_flat_energy_register() -> None:
    # register 0 -> 7400 Wh in the first hour (charging), then flat for 30 min (idle)
    samples = [
        MeterSample(NOON, 0, 7400),
        MeterSample(NOON + timedelta(minutes=30), 3700, 7400),
        MeterSample(NOON + timedelta(minutes=60), 7400, 0),
        MeterSample(NOON + timedelta(minutes=90), 7400, 0),
    ]
    periods = periods_from_meter(samples)
    cost = price_session(
        tariff(el(pc(ENERGY, "0.40"), pc(PARKING, "0.60", 60))), periods, time_zone=AMS
    )
    # energy 7.4 kWh x 0.40 = 2.96; parking 30 min x 0.60/h = 0.30 -> 3.26
    assert (cost.energy.billed_quantity, cost.energy.excl_vat) == (7400, 296)
    assert (cost.parking_time.billed_quantity, cost.parking_time.excl_vat) == (1800, 30)
    assert cost.total_excl_vat == 326
    assert [p.charging for p in cost.periods] == [True, False]


# OCPI's step_size example tariff (tariff_14): TIME 1.20/h per 30 min until 17:00, 2.40/h per
# 15 min after; PARKING 1.00/h per 15 min until 20:00, free after.
STEP_EXAMPLE = tariff(
    el(pc(TIME, "1.20", 1800), pc(PARKING, "1.00", 900), start_time=time(0), end_time=time(17)),
    el(pc(TIME, "2.40", 900), pc(PARKING, "1.00", 900), start_time=time(17), end_time=time(20)),
    el(pc(TIME, "2.40", 900), start_time=time(20), end_time=time(23, 59)),
)


@pytest.mark.parametrize(
    ("the_tariff", "start", "parts", "dimension", "billed", "amount"),
    [
        # 4.2 kWh billed per 1 kWh -> 5 kWh x 0.40 = 2.00
        (tariff(el(pc(ENERGY, "0.40", 1000))), NOON, [(60, 4200)], ENERGY, 5000, 200),
        # 20.45 kWh billed per 0.1 kWh -> 20.5 kWh x 0.22 = 4.51 (OCPI's alt_url example)
        (tariff(el(pc(ENERGY, "0.22", 100))), NOON, [(60, 20_450)], ENERGY, 20_500, 451),
        # 20 min billed per 15 min -> 30 min x 2.00/h = 1.00
        (tariff(el(pc(TIME, "2.00", 900))), NOON, [(20, 3000)], TIME, 1800, 100),
        # exactly 30 min stays 30 min -> 1.00
        (tariff(el(pc(TIME, "2.00", 900))), NOON, [(30, 3000)], TIME, 1800, 100),
        # 8 idle min billed per 5 min -> 10 min x 3.00/h = 0.50
        (tariff(el(pc(PARKING, "3.00", 300))), NOON, [(8, 0)], PARKING, 600, 50),
        # OCPI example #1 (charging part): 5 min x 1.20/h = 0.10 before 17:00; total 10 min,
        # stepped by the last element's 15 min -> 15 min, 10 of them at 2.40/h = 0.40 -> 0.50
        (STEP_EXAMPLE, local("2024-06-10T16:55"), [(10, 1000)], TIME, 900, 50),
        # OCPI example #2: 25 min x 1.20/h = 0.50; total 35 min -> 45 min, 20 at 2.40/h = 0.80
        (STEP_EXAMPLE, local("2024-06-10T16:35"), [(35, 3000)], TIME, 2700, 130),
        # OCPI free-parking example: 10 min charging from 19:55 -> 15 min at 2.40/h = 0.60 ...
        (STEP_EXAMPLE, local("2024-06-10T19:55"), [(10, 1000), (2, 0)], TIME, 900, 60),
        # ... and its 2 idle minutes after 20:00 are free
        (STEP_EXAMPLE, local("2024-06-10T19:55"), [(10, 1000), (2, 0)], PARKING, 0, 0),
        # idle 19:50-20:10: 10 priced min, then parking turns free, which closes the step:
        # 10 min -> 15 min x 1.00/h = 0.25
        (STEP_EXAMPLE, local("2024-06-10T19:50"), [(20, 0)], PARKING, 900, 25),
    ],
    ids=[
        "energy-1kwh",
        "energy-100wh",
        "time-900s",
        "time-exact",
        "parking-300s",
        "ocpi-switch-1",
        "ocpi-switch-2",
        "ocpi-free-after-20-time",
        "ocpi-free-after-20-parking",
        "parking-step-closes-when-free",
    ],
)
def test_step_size_rounds_up_the_total_with_the_last_step(
    the_tariff: Tariff,
    start: datetime,
    parts: list[tuple[float, int]],
    dimension: TariffDimension,
    billed: int,
    amount: int,
) -> None:
    cost = price_session(the_tariff, timeline(start, *parts), time_zone=AMS)
    line = {ENERGY: cost.energy, TIME: cost.time, PARKING: cost.parking_time}[dimension]
    assert (line.billed_quantity, line.excl_vat) == (billed, amount)


@pytest.mark.parametrize(
    ("the_tariff", "energy_wh", "expected"),
    [
        # 1 kWh x 0.345 = 0.345 -> 0.35 (half up; banker's would give 0.34)
        (tariff(el(pc(ENERGY, "0.345"))), 1000, (35, 0, 35)),
        # 1 kWh x 0.25 = 0.25; VAT 21% = 0.0525 -> 0.05
        (tariff(el(pc(ENERGY, "0.25", vat="21"))), 1000, (25, 5, 30)),
        # VAT 0% and no VAT both add nothing
        (tariff(el(pc(ENERGY, "0.25", vat="0"))), 1000, (25, 0, 25)),
        # the tariff's VAT fills in for a component without one: 10 kWh x 0.30 = 3.00 + 21%
        (tariff(el(pc(ENERGY, "0.30")), vat=D(21)), 10_000, (300, 63, 363)),
        # ... but not for one that states its own: 3.00 + 9% = 0.27
        (tariff(el(pc(ENERGY, "0.30", vat="9")), vat=D(21)), 10_000, (300, 27, 327)),
    ],
    ids=["half-up", "vat-rounded", "vat-zero", "tariff-vat", "component-vat-wins"],
)
def test_vat_per_dimension(the_tariff: Tariff, energy_wh: int, expected: tuple[int, ...]) -> None:
    assert totals(price_session(the_tariff, timeline(NOON, (60, energy_wh)), time_zone=AMS)) == (
        expected
    )


def test_complex_example_vat_is_rounded_per_dimension() -> None:
    # OCPI's complex example, Saturday 13:30, 114 min at 43 A, then 71 min parked.
    complex_tariff = tariff(
        el(pc(FLAT, "2.50", vat="15")),
        el(pc(TIME, "1.00", 900, "20"), max_current_a=D(32)),
        el(pc(TIME, "2.00", 600, "20"), min_current_a=D(32), day_of_week=WEEKDAYS),
        el(pc(TIME, "1.25", 600, "20"), min_current_a=D(32), day_of_week=WEEKEND),
        el(
            pc(PARKING, "5.00", 300, "10"),
            start_time=time(9),
            end_time=time(18),
            day_of_week=WEEKDAYS,
        ),
        el(
            pc(PARKING, "6.00", 300, "10"),
            start_time=time(10),
            end_time=time(17),
            day_of_week=frozenset({DayOfWeek.SATURDAY}),
        ),
    )
    start = local("2024-06-15T13:30", "Europe/Berlin")
    periods = [
        ChargingPeriod(start, start + timedelta(minutes=114), 20_000, True, 29_000, D(43)),
        ChargingPeriod(start + timedelta(minutes=114), start + timedelta(minutes=185), 0, False),
    ]
    cost = price_session(complex_tariff, periods, time_zone="Europe/Berlin")
    # flat 2.50 + 15% = 0.375 -> 0.38; time 114 -> 120 min x 1.25/h = 2.50 + 20% = 0.50;
    # parking 71 -> 75 min x 6.00/h = 7.50 + 10% = 0.75 -> 12.50 / 1.63 / 14.13 (as OCPI says)
    assert totals(cost) == (1250, 163, 1413)
    assert [d.element_index for p in cost.periods for d in p.dimensions] == [0, 3, 5]

    monday = local("2024-06-17T09:30", "Europe/Berlin")
    periods = [
        ChargingPeriod(monday, monday + timedelta(minutes=147), 9_000, True, 3_700, D(16)),
        ChargingPeriod(monday + timedelta(minutes=147), monday + timedelta(minutes=189), 0, False),
    ]
    cost = price_session(complex_tariff, periods, time_zone="Europe/Berlin")
    # flat 2.50 + 0.375 -> 0.38; time 147 -> 150 min x 1.00/h = 2.50 + 0.50; parking 42 -> 45
    # min x 5.00/h = 3.75 + 0.375 -> 0.38: 8.75 / 1.26 / 10.01. OCPI's text says 10.00, which
    # rounds only the total; we round each dimension so receipt lines add up to the total.
    assert totals(cost) == (875, 126, 1001)


@pytest.mark.parametrize(
    ("the_tariff", "energy_wh", "expected", "limit"),
    [
        # 1 kWh x 0.25 = 0.25 (+0.03) is below the minimum 0.50 / 0.55 (OCPI example)
        (
            tariff(el(pc(ENERGY, "0.25", vat="10")), min_price=Price(D("0.50"), D("0.55"))),
            1000,
            (50, 5, 55),
            PriceLimit.MIN_PRICE,
        ),
        # 20 kWh: 5.00 / 5.50 is above the minimum, untouched
        (
            tariff(el(pc(ENERGY, "0.25", vat="10")), min_price=Price(D("0.50"), D("0.55"))),
            20_000,
            (500, 50, 550),
            None,
        ),
        # 50 kWh: 0.50 + 12.50 = 13.00 / 14.35 is capped at 10.00 / 11.00 (OCPI example)
        (
            tariff(
                el(pc(FLAT, "0.50", vat="20"), pc(ENERGY, "0.25", vat="10")),
                max_price=Price(D("10.00"), D("11.00")),
            ),
            50_000,
            (1000, 100, 1100),
            PriceLimit.MAX_PRICE,
        ),
        # 30 kWh: 0.50 + 7.50 = 8.00; VAT 0.10 + 0.75 = 0.85 -> 8.85, under the cap
        (
            tariff(
                el(pc(FLAT, "0.50", vat="20"), pc(ENERGY, "0.25", vat="10")),
                max_price=Price(D("10.00"), D("11.00")),
            ),
            30_000,
            (800, 85, 885),
            None,
        ),
        # 50 kWh x 0.40 = 20.00 / 24.00 capped at 10.00 excl.; incl. keeps the 20% -> 12.00
        (
            tariff(el(pc(ENERGY, "0.40", vat="20")), max_price=Price(D("10.00"))),
            50_000,
            (1000, 200, 1200),
            PriceLimit.MAX_PRICE,
        ),
    ],
    ids=["min-applies", "min-idle", "max-applies", "max-idle", "max-excl-only"],
)
def test_min_and_max_price_bound_the_total(
    the_tariff: Tariff, energy_wh: int, expected: tuple[int, ...], limit: PriceLimit | None
) -> None:
    cost = price_session(the_tariff, timeline(NOON, (60, energy_wh)), time_zone=AMS)
    assert (totals(cost), cost.price_limit) == (expected, limit)


def test_dimensions_keep_their_amounts_under_a_cap() -> None:
    capped = tariff(
        el(pc(FLAT, "0.50", vat="20"), pc(ENERGY, "0.25", vat="10")),
        max_price=Price(D("10.00"), D("11.00")),
    )
    cost = price_session(capped, timeline(NOON, (60, 50_000)), time_zone=AMS)
    # the lines still say what was consumed: 0.50 + 12.50 = 13.00; the total is capped
    assert cost.flat.excl_vat + cost.energy.excl_vat == 1300
    assert cost.total_excl_vat == 1000


NIGHT_ENERGY = tariff(
    el(pc(ENERGY, "0.20"), start_time=time(22), end_time=time(7)),
    el(pc(ENERGY, "0.40")),
)
NIGHT_TIME = tariff(
    el(pc(TIME, "1.00"), start_time=time(22), end_time=time(7)),
    el(pc(TIME, "2.00")),
)


@pytest.mark.parametrize(
    ("the_tariff", "start", "parts", "expected"),
    [
        # one 2 h sample 21:00-23:00 at 11 kW across 22:00: 11 kWh day x 0.40 = 4.40,
        # 11 kWh night x 0.20 = 2.20 -> 6.60
        (NIGHT_ENERGY, local("2024-06-10T21:00"), [(120, 22_000)], 660),
        # 06:00-08:00 at 11 kW across 07:00: 11 kWh night x 0.20 = 2.20, 11 kWh day x 0.40
        # = 4.40 -> 6.60
        (NIGHT_ENERGY, local("2024-06-11T06:00"), [(120, 22_000)], 660),
        # clocks go back on 27 Oct 2024 (03:00 CEST -> 02:00 CET): 20:00 CEST to 09:00 CET is
        # 14 h; night 22:00 CEST-07:00 CET is 10 h x 1.00 = 10.00; day 2 h + 2 h x 2.00 = 8.00
        (NIGHT_TIME, local("2024-10-26T20:00"), [(14 * 60, 42_000)], 1800),
        # clocks go forward on 31 Mar 2024 (02:00 CET -> 03:00 CEST): 20:00 CET to 09:00 CEST is
        # 12 h; night 22:00-07:00 is 8 h x 1.00 = 8.00; day 2 h + 2 h x 2.00 = 8.00
        (NIGHT_TIME, local("2024-03-30T20:00"), [(12 * 60, 36_000)], 1600),
        # a window starting at 02:30, a time skipped on 31 Mar: it opens at the jump (03:00 CEST)
        # and closes 06:00, 3 h x 1.00 = 3.00; 01:00 CET-02:00 CET and 06:00-08:00 CEST are
        # 3 h x 2.00 = 6.00 -> 9.00
        (
            tariff(
                el(pc(TIME, "1.00"), start_time=time(2, 30), end_time=time(6)),
                el(pc(TIME, "2.00")),
            ),
            local("2024-03-31T01:00"),
            [(6 * 60, 6_000)],
            900,
        ),
        # weekend energy 0.20, weekdays 0.40: Fri 23:00-Sat 01:00 at 5 kW -> 5 kWh x 0.40 = 2.00
        # + 5 kWh x 0.20 = 1.00 -> 3.00
        (
            tariff(el(pc(ENERGY, "0.20"), day_of_week=WEEKEND), el(pc(ENERGY, "0.40"))),
            local("2024-06-14T23:00"),
            [(120, 10_000)],
            300,
        ),
        # the first 10 kWh at 0.30, the rest at 0.50; samples of 8 kWh then 17 kWh: the tier
        # switches inside the second -> 10 x 0.30 = 3.00 + 15 x 0.50 = 7.50 -> 10.50
        (
            tariff(el(pc(ENERGY, "0.30"), max_kwh=D(10)), el(pc(ENERGY, "0.50"), min_kwh=D(10))),
            NOON,
            [(20, 8_000), (40, 17_000)],
            1050,
        ),
        # DC, cheaper below 50 kW: 30 min at 100 kW = 50 kWh x 0.59 = 29.50; 30 min at 40 kW =
        # 20 kWh x 0.45 = 9.00 -> 38.50
        (
            tariff(el(pc(ENERGY, "0.45"), max_power_kw=D(50)), el(pc(ENERGY, "0.59"))),
            NOON,
            [(30, 50_000, 100_000), (30, 20_000, 40_000)],
            3850,
        ),
        # OCPI's max_power example: 1 kWh at 6 kW x 0.20 + 40 kWh at 48 kW x 0.50 + 0.5 kWh at
        # 4 kW x 0.20 = 0.20 + 20.00 + 0.10 = 20.30
        (
            tariff(
                el(pc(ENERGY, "0.20"), max_power_kw=D(16)),
                el(pc(ENERGY, "0.35"), max_power_kw=D(32)),
                el(pc(ENERGY, "0.50")),
            ),
            NOON,
            [(10, 1_000, 6_000), (50, 40_000, 48_000), (7.5, 500, 4_000)],
            2030,
        ),
        # OCPI's max_duration example: free for 30 min, 0.25 until 60 min, then 0.40. 5 kWh in
        # the first 30 min, 1.2 kWh in the next 10 -> 1.2 x 0.25 = 0.30
        (
            tariff(
                el(pc(ENERGY, "0.00"), max_duration_s=1800),
                el(pc(ENERGY, "0.25"), max_duration_s=3600),
                el(pc(ENERGY, "0.40")),
            ),
            NOON,
            [(30, 5_000), (10, 1_200)],
            30,
        ),
    ],
    ids=[
        "night-from-22",
        "night-until-07",
        "dst-autumn",
        "dst-spring",
        "window-in-dst-gap",
        "weekend",
        "kwh-tiers",
        "dc-below-50kw",
        "ocpi-max-power",
        "ocpi-max-duration",
    ],
)
def test_restrictions_switch_elements_mid_session(
    the_tariff: Tariff, start: datetime, parts: list[tuple[float, int]], expected: int
) -> None:
    cost = price_session(the_tariff, timeline(start, *parts), time_zone=AMS)
    assert cost.total_excl_vat == expected


def test_priced_periods_record_the_element_that_applied() -> None:
    cost = price_session(
        NIGHT_ENERGY, timeline(local("2024-06-10T21:00"), (120, 22_000)), time_zone=AMS
    )
    # split at 22:00 local = 20:00 UTC, energy in proportion to time: 11 kWh each side
    assert [(p.start, p.end) for p in cost.periods] == [
        (local("2024-06-10T21:00"), local("2024-06-10T22:00")),
        (local("2024-06-10T22:00"), local("2024-06-10T23:00")),
    ]
    assert [(p.energy_wh, p.dimensions[0].element_index) for p in cost.periods] == [
        (D(11_000), 1),
        (D(11_000), 0),
    ]


@pytest.mark.parametrize(
    ("currency", "price", "energy_wh", "vat", "expected"),
    [
        # 10.5 kWh x 30 JPY = 315; VAT 10% = 31.5 -> 32 (half up) -> 347
        ("JPY", "30", 10_500, "10", (315, 32, 347)),
        # 10 kWh x 0.0125 KWD = 0.125 KWD = 125 fils
        ("KWD", "0.0125", 10_000, None, (125, 0, 125)),
        # 10 kWh x 0.01234 = 0.1234 KWD -> 123 fils
        ("KWD", "0.01234", 10_000, None, (123, 0, 123)),
        # 10 kWh x 0.555 USD = 5.55 USD = 555 cents
        ("USD", "0.555", 10_000, None, (555, 0, 555)),
    ],
    ids=["jpy", "kwd", "kwd-rounded", "usd"],
)
def test_amounts_are_in_the_currency_minor_unit(
    currency: str, price: str, energy_wh: int, vat: str | None, expected: tuple[int, ...]
) -> None:
    the_tariff = tariff(el(pc(ENERGY, price, vat=vat)), currency=currency)
    cost = price_session(the_tariff, timeline(NOON, (60, energy_wh)), time_zone="Asia/Tokyo")
    assert totals(cost) == expected


def test_estimate_charges_at_power_then_idles() -> None:
    quote = tariff(el(pc(ENERGY, "0.35"), pc(PARKING, "6.00", 60)))
    # 22 kWh at 11 kW takes 2 h of the 3 h: 22 x 0.35 = 7.70; 1 h idle x 6.00 = 6.00 -> 13.70
    cost = estimate_cost(
        quote, energy_wh=22_000, duration_s=3 * 3600, start=NOON, time_zone=AMS, power_w=11_000
    )
    assert (cost.total_excl_vat, cost.parking_time.billed_quantity) == (1370, 3600)
    # without a power the 3 h are all charging: 7.70, nothing idle
    cost = estimate_cost(quote, energy_wh=22_000, duration_s=3 * 3600, start=NOON, time_zone=AMS)
    assert (cost.total_excl_vat, cost.parking_time.billed_quantity) == (770, 0)


def test_estimate_splits_energy_across_a_night_rate() -> None:
    # 10 kWh over 21:00-23:00 at constant power: 5 kWh x 0.40 + 5 kWh x 0.20 = 3.00
    cost = estimate_cost(
        NIGHT_ENERGY,
        energy_wh=10_000,
        duration_s=7200,
        start=local("2024-06-10T21:00"),
        time_zone=AMS,
    )
    assert cost.total_excl_vat == 300


@pytest.mark.parametrize(
    ("the_tariff", "expected"),
    [
        (
            tariff(
                el(pc(ENERGY, "0.35"), pc(FLAT, "1.00")),
                el(pc(PARKING, "6.00", 60), min_duration_s=3600),
            ),
            "€0.35/kWh, €1.00 session fee; €0.10/min idle after 1 h",
        ),
        (
            tariff(
                el(pc(ENERGY, "0.20"), start_time=time(22), end_time=time(7)),
                el(pc(ENERGY, "0.40")),
            ),
            "€0.20/kWh 22:00-07:00; €0.40/kWh",
        ),
        (
            tariff(el(pc(TIME, "2.50", 900), day_of_week=WEEKDAYS), currency="GBP"),
            "£2.50/h charging (billed per 15 min) Mon-Fri",
        ),
        (
            tariff(el(pc(ENERGY, "45")), currency="JPY", max_price=Price(D("3000"))),
            "¥45/kWh; maximum ¥3000",
        ),
    ],
    ids=["idle-after", "night", "weekdays", "jpy-max"],
)
def test_describe_tariff(the_tariff: Tariff, expected: str) -> None:
    assert describe_tariff(the_tariff) == expected


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: pc(ENERGY, "-0.10"), "ENERGY price must be >= 0, got -0.10"),
        (lambda: pc(TIME, "1.00", 0), "TIME step_size must be an integer >= 1, got 0"),
        (lambda: pc(ENERGY, "0.30", vat="-1"), "vat must be >= 0, got -1"),
        (lambda: tariff(el(pc(ENERGY, "0.30")), currency="XYZ"), "currency 'XYZ'"),
        (lambda: Price(D("2.00"), D("1.00")), "incl_vat 1.00 must be >= excl_vat 2.00"),
        (
            lambda: ChargingPeriod(datetime(2024, 1, 1), datetime(2024, 1, 1, 1), 100),
            "period start must be timezone-aware",
        ),
        (
            lambda: price_session(
                tariff(el(pc(ENERGY, "1"))), timeline(NOON, (1, 1)), time_zone="Mars/Olympus"
            ),
            "time zone 'Mars/Olympus'",
        ),
        (
            lambda: price_session(
                tariff(el(pc(ENERGY, "1"))),
                [timeline(NOON, (1, 1))[0], timeline(NOON + timedelta(minutes=2), (1, 1))[0]],
                time_zone=AMS,
            ),
            "contiguous",
        ),
        (
            lambda: periods_from_meter(
                [MeterSample(NOON, 500), MeterSample(NOON + timedelta(1), 400)]
            ),
            "went backwards from 500 Wh to 400 Wh",
        ),
        (
            lambda: estimate_cost(
                tariff(el(pc(ENERGY, "1"))),
                energy_wh=50_000,
                duration_s=600,
                start=NOON,
                time_zone=AMS,
                power_w=22_000,
            ),
            "more than duration_s 600",
        ),
        (
            lambda: estimate_cost(
                tariff(el(pc(ENERGY, "1"))),
                energy_wh=1,
                duration_s=60,
                start=datetime(2024, 1, 1),
                time_zone=AMS,
            ),
            "start must be timezone-aware",
        ),
    ],
    ids=[
        "negative-price",
        "step-zero",
        "negative-vat",
        "currency",
        "incl-below-excl",
        "naive-period",
        "time-zone",
        "gap",
        "register-backwards",
        "impossible-power",
        "naive-estimate",
    ],
)
def test_invalid_input_names_the_bad_value(build: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(")):
        build()  # type: ignore[operator]


# --- properties -------------------------------------------------------------------------------

prices = st.decimals(min_value=0, max_value=2, places=3)
vats = st.none() | st.decimals(min_value=0, max_value=30, places=1)
parts = st.lists(st.tuples(st.integers(1, 240), st.integers(0, 30_000)), min_size=1, max_size=8)


@settings(max_examples=60, deadline=None)
@given(
    price=prices,
    step=st.integers(1, 2000),
    vat=vats,
    a=st.integers(0, 80_000),
    b=st.integers(0, 80_000),
)
def test_energy_cost_is_monotonic(
    price: Decimal, step: int, vat: Decimal | None, a: int, b: int
) -> None:
    the_tariff = tariff(el(PriceComponent(ENERGY, price, step, vat)))
    low, high = sorted((a, b))

    def cost(energy_wh: int) -> SessionCost:
        return estimate_cost(
            the_tariff, energy_wh=energy_wh, duration_s=3600, start=NOON, time_zone=AMS
        )

    assert cost(low).total_excl_vat <= cost(high).total_excl_vat
    assert cost(low).total_incl_vat <= cost(high).total_incl_vat


@settings(max_examples=60, deadline=None)
@given(
    energy=prices,
    time_price=prices,
    parking=prices,
    flat=prices,
    vat=vats,
    parts=parts,
    night=st.booleans(),
)
def test_total_is_the_sum_of_dimensions(
    energy: Decimal,
    time_price: Decimal,
    parking: Decimal,
    flat: Decimal,
    vat: Decimal | None,
    parts: list[tuple[int, int]],
    night: bool,
) -> None:
    components = (
        PriceComponent(ENERGY, energy, 100, vat),
        PriceComponent(TIME, time_price, 60, vat),
        PriceComponent(PARKING, parking, 300, vat),
        PriceComponent(FLAT, flat, 1, vat),
    )
    night_element = el(*components[:3], start_time=time(22), end_time=time(6))
    the_tariff = tariff(*([night_element] if night else []), el(*components))
    cost = price_session(the_tariff, timeline(local("2024-10-26T20:00"), *parts), time_zone=AMS)
    dims = (cost.energy, cost.time, cost.parking_time, cost.flat)
    assert cost.total_excl_vat == sum(d.excl_vat for d in dims)
    assert cost.total_vat == sum(d.vat for d in dims)
    assert cost.total_incl_vat == cost.total_excl_vat + cost.total_vat


@settings(max_examples=60, deadline=None)
@given(
    price=prices,
    parts=parts,
    cuts=st.lists(st.tuples(st.floats(0.01, 0.99), st.floats(0, 1)), min_size=8, max_size=8),
)
def test_finer_samples_do_not_change_a_linear_energy_cost(
    price: Decimal, parts: list[tuple[int, int]], cuts: list[tuple[float, float]]
) -> None:
    the_tariff = tariff(el(PriceComponent(ENERGY, price, 1, D(21))))
    start = local("2024-03-30T22:00")
    coarse = timeline(start, *parts)
    fine = []
    for period, (at, share) in zip(coarse, cuts, strict=False):
        middle = period.start + (period.end - period.start) * at
        first_wh = int(int(period.energy_wh) * share)
        rest_wh = int(period.energy_wh) - first_wh
        fine.append(ChargingPeriod(period.start, middle, first_wh, first_wh > 0))
        fine.append(ChargingPeriod(middle, period.end, rest_wh, rest_wh > 0))
    assert totals(price_session(the_tariff, fine, time_zone=AMS)) == totals(
        price_session(the_tariff, coarse, time_zone=AMS)
    )
