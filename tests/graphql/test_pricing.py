"""Connector.tariff and priceEstimate over HTTP: public, numbers checked by hand, clear errors."""

from datetime import UTC, datetime

import pytest
from sqlmodel import select

from app.db.engine import SessionFactory
from app.db.models import Evse
from app.services import tariffs
from app.services.demo import create_demo_tariffs
from tests.factories import make_location, make_station
from tests.graphql.conftest import GraphQLClient, global_id

ESTIMATE = """
query Estimate($evseId: ID!, $kwh: Float!, $minutes: Int!) {
  priceEstimate(evseId: $evseId, kwh: $kwh, minutes: $minutes) {
    timeZone chargingPowerKw startsAt priceLimit
    totalExclVat { amountMinor currency formatted }
    totalVat { amountMinor }
    totalInclVat { amountMinor currency formatted }
    breakdown { dimension billedQuantity exclVat { amountMinor } vat { amountMinor }
      inclVat { amountMinor } }
    tariff { currency summary }
  }
}
"""

CONNECTOR_TARIFF = """
query Location($id: ID!) {
  location(id: $id) {
    evses { connectors { tariff { id currency summary vatPercent
      elements { priceComponents { type price vat stepSize }
        restrictions { minDurationSeconds startTime dayOfWeek } } } } }
  }
}
"""


async def demo_evses(session_factory: SessionFactory, *, dc: bool) -> tuple[int, list[int]]:
    location = await make_location(session_factory)
    station = await make_station(
        session_factory, location=location, evses=2, max_power_w=50_000 if dc else 11_000
    )
    ac, dc_tariff = await create_demo_tariffs(session_factory=session_factory)
    await tariffs.assign_tariff(
        session_factory=session_factory,
        tariff_id=(dc_tariff if dc else ac).id,
        station_ids=[station.id],
    )
    async with session_factory() as db:
        rows = (await db.exec(select(Evse.id).where(Evse.station_id == station.id))).all()
    assert location.id is not None
    return location.id, [i for i in rows if i is not None]


async def test_connectors_show_their_tariff_with_a_summary(
    graphql: GraphQLClient, session_factory: SessionFactory
) -> None:
    location_id, _ = await demo_evses(session_factory, dc=False)
    data = await graphql.data(CONNECTOR_TARIFF, id=global_id("Location", location_id))
    tariff = data["location"]["evses"][0]["connectors"][0]["tariff"]
    assert tariff["currency"] == "EUR"
    assert tariff["summary"] == "€0.39/kWh; €0.10/min idle after 1 h"
    assert tariff["vatPercent"] == "21"
    assert tariff["elements"] == [
        {
            "priceComponents": [{"type": "ENERGY", "price": "0.39", "vat": "21", "stepSize": 1}],
            "restrictions": None,
        },
        {
            "priceComponents": [
                {"type": "PARKING_TIME", "price": "6.00", "vat": "21", "stepSize": 60}
            ],
            "restrictions": {"minDurationSeconds": 3600, "startTime": None, "dayOfWeek": []},
        },
    ]


async def test_price_estimate_dc_by_hand_and_anonymous(
    graphql: GraphQLClient, session_factory: SessionFactory
) -> None:
    _, evses = await demo_evses(session_factory, dc=True)
    data = await graphql.data(ESTIMATE, evseId=global_id("Evse", evses[0]), kwh=30, minutes=45)
    got = data["priceEstimate"]
    # 30 kWh x 0.59 = 17.70 excl., VAT 21 % = 3.717 -> 3.72; session fee 1.00 + 0.21 VAT.
    # Totals: 18.70 excl. + 3.93 VAT = 22.63. 30 kWh at 50 kW is 36 min, then 9 min idle (free).
    assert got["totalExclVat"] == {"amountMinor": 1870, "currency": "EUR", "formatted": "€18.70"}
    assert got["totalVat"] == {"amountMinor": 393}
    assert got["totalInclVat"]["formatted"] == "€22.63"
    lines = {line["dimension"]: line for line in got["breakdown"]}
    assert lines["ENERGY"]["billedQuantity"] == 30_000
    assert lines["ENERGY"]["exclVat"] == {"amountMinor": 1770}
    assert lines["ENERGY"]["vat"] == {"amountMinor": 372}
    assert lines["FLAT"]["inclVat"] == {"amountMinor": 121}
    assert lines["PARKING_TIME"]["inclVat"] == {"amountMinor": 0}
    assert (got["timeZone"], got["chargingPowerKw"]) == ("Europe/Amsterdam", 50.0)
    assert datetime.fromisoformat(got["startsAt"]) <= datetime.now(UTC)
    assert got["tariff"]["summary"] == "€0.59/kWh, €1.00 session fee"


@pytest.mark.parametrize(
    ("evse", "kwh", "minutes", "message"),
    [
        pytest.param("unknown", 10, 60, "EVSE", id="unknown-evse"),
        pytest.param("not-an-id", 10, 60, "EVSE", id="malformed-id"),
        pytest.param("free", 10, 60, "tariff of EVSE", id="no-tariff"),
        pytest.param("ac", 0, 60, "kwh must be > 0", id="zero-kwh"),
        pytest.param("ac", 10, -5, "minutes must be from 1", id="negative-minutes"),
        pytest.param("ac", 12, 60, "does not fit in 60 min", id="too-much-energy"),
    ],
)
async def test_price_estimate_errors_are_clear(
    graphql: GraphQLClient,
    session_factory: SessionFactory,
    evse: str,
    kwh: float,
    minutes: int,
    message: str,
) -> None:
    _, evses = await demo_evses(session_factory, dc=False)
    free = await make_station(session_factory)
    async with session_factory() as db:
        free_evse = (await db.exec(select(Evse.id).where(Evse.station_id == free.id))).one()
    ids = {
        "unknown": global_id("Evse", 999_999),
        "not-an-id": "nope",
        "free": global_id("Evse", free_evse),
        "ac": global_id("Evse", evses[0]),
    }
    body = await graphql.execute(ESTIMATE, evseId=ids[evse], kwh=kwh, minutes=minutes)
    assert body["data"] is None
    assert message in body["errors"][0]["message"]
