"""Tariff storage: strict OCPI JSON parsing, round trips, assignment, quotes, compaction."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from app.db.engine import SessionFactory
from app.db.models import Connector, Evse
from app.db.models import Tariff as TariffRow
from app.domain.errors import InvalidInput, NotFound
from app.domain.tariffs import price_session
from app.services import pricing, tariffs
from app.services.session_timeline import Segment, compact_periods, to_periods
from tests.factories import make_location, make_station

ENERGY = {"price_components": [{"type": "ENERGY", "price": 0.39, "vat": 21}]}


@pytest.mark.parametrize(
    ("elements", "names"),
    [
        pytest.param([], "elements must be a non-empty list", id="empty"),
        pytest.param({"a": 1}, "elements must be a non-empty list", id="not-a-list"),
        pytest.param([{"price_components": []}], "elements[0].price_components", id="no-comps"),
        pytest.param(
            [{"price_components": [{"type": "KWH", "price": 1}]}],
            "elements[0].price_components[0].type",
            id="bad-type",
        ),
        pytest.param(
            [ENERGY, {"price_components": [{"type": "TIME", "price": "-1"}]}],
            "elements[1].price_components[0].price",
            id="negative-price",
        ),
        pytest.param(
            [{"price_components": [{"type": "TIME", "price": True}]}],
            "elements[0].price_components[0].price",
            id="bool-price",
        ),
        pytest.param(
            [{"price_components": [{"type": "TIME", "price": 1, "step_size": 0}]}],
            "elements[0].price_components[0].step_size",
            id="zero-step",
        ),
        pytest.param(
            [{"price_components": [{"type": "TIME", "price": 1, "vat": 121}]}],
            "elements[0].price_components[0].vat",
            id="vat-over-100",
        ),
        pytest.param(
            [{"price_components": [{"type": "TIME", "price": 1, "colour": "red"}]}],
            "elements[0].price_components[0] has unknown field(s) ['colour']",
            id="unknown-field",
        ),
        pytest.param(
            [{**ENERGY, "restrictions": {"start_time": "25:00"}}],
            "elements[0].restrictions.start_time",
            id="bad-time",
        ),
        pytest.param(
            [{**ENERGY, "restrictions": {"day_of_week": ["FUNDAY"]}}],
            "elements[0].restrictions.day_of_week",
            id="bad-day",
        ),
        pytest.param(
            [{**ENERGY, "restrictions": {"min_duration": 1.5}}],
            "elements[0].restrictions.min_duration",
            id="fractional-duration",
        ),
        pytest.param(
            [{**ENERGY, "restrictions": {"start_time": "10:00", "end_time": "10:00"}}],
            "elements[0].restrictions: start_time and end_time",
            id="empty-window",
        ),
    ],
)
def test_parse_elements_names_the_bad_field(elements: Any, names: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        tariffs.parse_elements(elements)
    assert names in str(caught.value)


async def test_create_tariff_round_trips_exact_decimals(session_factory: SessionFactory) -> None:
    row = await tariffs.create_tariff(
        session_factory=session_factory,
        currency="EUR",
        vat_percent="21",
        max_price={"excl_vat": 50},
        elements=[
            ENERGY,
            {
                "price_components": [{"type": "PARKING_TIME", "price": 6, "step_size": 60}],
                "restrictions": {"min_duration": 3600, "day_of_week": ["MONDAY", "FRIDAY"]},
            },
        ],
    )
    tariff = tariffs.tariff_from_row(row)
    assert tariff.elements[0].price_components[0].price == Decimal("0.39")
    assert tariff.elements[1].restrictions is not None
    assert tariff.elements[1].restrictions.min_duration_s == 3600
    assert tariff.vat == Decimal(21)
    assert tariff.max_price is not None
    assert tariff.max_price.excl_vat == Decimal(50)
    assert tariffs.tariff_from_snapshot(tariffs.tariff_snapshot(row)) == tariff


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"currency": "XXX"}, "currency 'XXX'", id="currency"),
        pytest.param({"vat_percent": "abc"}, "vat must be a number", id="vat"),
        pytest.param({"min_price": {"incl_vat": 1}}, "min_price.excl_vat is missing", id="min"),
    ],
)
async def test_create_tariff_refuses_bad_fields(
    session_factory: SessionFactory, kwargs: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {"currency": "EUR", "elements": [ENERGY]} | kwargs
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(")):
        await tariffs.create_tariff(session_factory=session_factory, **arguments)


async def test_assign_tariff_to_a_station_sets_each_connector(
    session_factory: SessionFactory,
) -> None:
    station = await make_station(session_factory, evses=2)
    other = await make_station(session_factory)
    row = await tariffs.create_tariff(
        session_factory=session_factory, currency="EUR", elements=[ENERGY]
    )
    changed = await tariffs.assign_tariff(
        session_factory=session_factory, tariff_id=row.id, station_ids=[station.id]
    )
    assert changed == 2
    async with session_factory() as db:
        result = await db.exec(select(Evse.station_id, Connector.tariff_id).join(Connector))
        assert sorted(result.all()) == sorted(
            [(station.id, row.id), (station.id, row.id), (other.id, None)]
        )
    with pytest.raises(NotFound):
        await tariffs.assign_tariff(
            session_factory=session_factory, tariff_id=9999, station_ids=[station.id]
        )


async def test_estimate_price_by_hand(session_factory: SessionFactory) -> None:
    location = await make_location(session_factory)
    station = await make_station(session_factory, location=location, max_power_w=11_000)
    ac = await tariffs.create_tariff(
        session_factory=session_factory,
        currency="EUR",
        elements=[
            ENERGY,
            {
                "price_components": [
                    {"type": "PARKING_TIME", "price": "6.00", "vat": 21, "step_size": 60}
                ],
                "restrictions": {"min_duration": 3600},
            },
        ],
    )
    await tariffs.assign_tariff(
        session_factory=session_factory, tariff_id=ac.id, station_ids=[station.id]
    )
    async with session_factory() as db:
        evse = (await db.exec(select(Evse).where(Evse.station_id == station.id))).one()
    assert evse.id is not None
    quote = await pricing.estimate_price(
        session_factory=session_factory,
        evse_id=evse.id,
        energy_wh=11_000,
        duration_s=90 * 60,
        now=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
    )
    # 11 kWh at 11 kW: charging 60 min, then 30 min idle, all of it after the free first hour.
    # energy: 11 kWh x 0.39 = 4.29 excl, 21 % VAT = 0.9009 -> 0.90, incl 5.19
    # idle: 30 min x 6.00/h = 3.00 excl, VAT 0.63, incl 3.63
    assert (quote.cost.energy.excl_vat, quote.cost.energy.vat) == (429, 90)
    assert (quote.cost.parking_time.excl_vat, quote.cost.parking_time.vat) == (300, 63)
    assert (quote.cost.total_excl_vat, quote.cost.total_incl_vat) == (729, 882)
    assert quote.time_zone == "Europe/Amsterdam"
    with pytest.raises(InvalidInput, match="does not fit in 30 min"):
        await pricing.estimate_price(
            session_factory=session_factory, evse_id=evse.id, energy_wh=6_000, duration_s=1800
        )
    with pytest.raises(NotFound):
        await pricing.estimate_price(
            session_factory=session_factory, evse_id=evse.id + 100, energy_wh=1, duration_s=60
        )


def _segments(start: datetime, powers: list[int], step_s: int = 15) -> list[Segment]:
    out = []
    for i, watts in enumerate(powers):
        t0 = start + timedelta(seconds=i * step_s)
        energy = watts * step_s // 3600
        out.append(
            Segment(t0, t0 + timedelta(seconds=step_s), energy, energy > 0, watts if energy else 0)
        )
    return out


@pytest.mark.parametrize(
    "elements",
    [
        pytest.param([ENERGY], id="energy-only"),
        pytest.param(
            [
                {
                    "price_components": [{"type": "ENERGY", "price": "0.25", "step_size": 100}],
                    "restrictions": {"start_time": "22:00", "end_time": "06:00"},
                },
                {"price_components": [{"type": "TIME", "price": "1.20", "step_size": 60}]},
                ENERGY,
                {"price_components": [{"type": "PARKING_TIME", "price": "6"}]},
            ],
            id="night-rate",
        ),
        pytest.param(
            [
                {
                    "price_components": [{"type": "ENERGY", "price": "0.30"}],
                    "restrictions": {"max_kwh": 5.5},
                },
                {
                    "price_components": [{"type": "TIME", "price": "2"}],
                    "restrictions": {"min_power": 7, "min_duration": 1200},
                },
                {"price_components": [{"type": "ENERGY", "price": "0.50"}]},
            ],
            id="kwh-power-duration",
        ),
    ],
)
def test_compaction_never_changes_the_price(elements: list[dict[str, Any]]) -> None:
    tariff = tariffs.tariff_from_row(TariffRow(id=1, currency="EUR", elements=elements))
    # 21:40 local, ramping power with dips to idle, across the 22:00 switch
    start = datetime(2026, 3, 2, 20, 40, tzinfo=UTC)
    powers = [(i * 7919) % 11_000 if i % 17 else 0 for i in range(600)]
    segments = _segments(start, powers)
    zone = ZoneInfo("Europe/Amsterdam")
    full = price_session(tariff, to_periods(segments), time_zone=zone)
    compact = compact_periods(tariff, segments, zone)
    assert len(compact) < len(segments)
    cheap = price_session(tariff, compact, time_zone=zone)
    assert (cheap.energy, cheap.time, cheap.parking_time, cheap.total_incl_vat) == (
        full.energy,
        full.time,
        full.parking_time,
        full.total_incl_vat,
    )
