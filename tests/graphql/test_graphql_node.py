"""location(id) and node(id): Relay global ids, and null for anything unknown or malformed."""

import pytest
from sqlmodel import select

from app.db.engine import SessionFactory
from app.db.models import Evse
from tests.factories import make_location, make_station
from tests.graphql.conftest import GraphQLClient, global_id

NODE = """
query Node($id: ID!) {
  node(id: $id) {
    __typename
    id
    ... on Location { name openingHours { twentyfourseven regularHours { weekday } } }
    ... on Evse {
      uid status lastUpdated connectors { standard maxElectricPowerKw } station { identity }
    }
    ... on ChargingStation { identity vendor model online }
  }
}
"""

LOCATION = """
query Location($id: ID!) {
  location(id: $id) {
    id name address city postalCode country timeZone
    coordinates { latitude longitude }
    evses { id uid status connectors { standard format powerType maxVoltage maxAmperage
      maxElectricPowerW maxElectricPowerKw } station { id identity vendor model online } }
  }
}
"""


async def test_location_by_id_has_its_details_evses_connectors_and_station(
    graphql: GraphQLClient, session_factory: SessionFactory
) -> None:
    location = await make_location(session_factory, name="Damrak")
    station = await make_station(
        session_factory, station_id="CS-NODE-1", location=location, evses=2
    )
    data = await graphql.data(LOCATION, id=global_id("Location", location.id))
    got = data["location"]
    assert got["id"] == global_id("Location", location.id)
    assert (got["name"], got["city"], got["postalCode"], got["country"], got["timeZone"]) == (
        "Damrak",
        "Amsterdam",
        "1012 LG",
        "NLD",
        "Europe/Amsterdam",
    )
    assert got["coordinates"] == {"latitude": 52.3702, "longitude": 4.8952}
    assert [evse["uid"] for evse in got["evses"]] == ["CS-NODE-1*1", "CS-NODE-1*2"]
    evse = got["evses"][0]
    assert evse["status"] == "UNKNOWN"
    assert evse["connectors"] == [
        {
            "standard": "IEC_62196_T2",
            "format": "SOCKET",
            "powerType": "AC_3_PHASE",
            "maxVoltage": 230,
            "maxAmperage": 32,
            "maxElectricPowerW": 22000,
            "maxElectricPowerKw": 22.0,
        }
    ]
    assert evse["station"] == {
        "id": global_id("ChargingStation", station.id),
        "identity": "CS-NODE-1",
        "vendor": None,
        "model": None,
        "online": False,
    }


async def test_node_resolves_each_node_type(
    graphql: GraphQLClient, session_factory: SessionFactory
) -> None:
    location = await make_location(session_factory, name="Node place")
    station = await make_station(session_factory, station_id="CS-NODE-2", location=location)
    async with session_factory() as db:
        evse = (await db.exec(select(Evse))).first()
    assert evse is not None

    by_location = (await graphql.data(NODE, id=global_id("Location", location.id)))["node"]
    assert by_location["__typename"] == "Location"
    assert by_location["name"] == "Node place"
    assert by_location["openingHours"] == {"twentyfourseven": True, "regularHours": []}

    by_evse = (await graphql.data(NODE, id=global_id("Evse", evse.id)))["node"]
    assert (by_evse["__typename"], by_evse["uid"]) == ("Evse", "CS-NODE-2*1")
    assert by_evse["station"] == {"identity": "CS-NODE-2"}
    assert by_evse["connectors"] == [{"standard": "IEC_62196_T2", "maxElectricPowerKw": 22.0}]

    by_station = (await graphql.data(NODE, id=global_id("ChargingStation", station.id)))["node"]
    assert by_station == {
        "__typename": "ChargingStation",
        "id": global_id("ChargingStation", "CS-NODE-2"),
        "identity": "CS-NODE-2",
        "vendor": None,
        "model": None,
        "online": False,
    }


@pytest.mark.parametrize(
    "bad_id",
    [
        "garbage",
        "",
        global_id("Location", 99999),
        global_id("Location", "abc"),
        global_id("Evse", 99999),
        global_id("ChargingStation", "NOPE"),
        global_id("Operator", 1),
        global_id("Location", ""),
        "TG9jYXRpb24=",  # "Location" without a key
    ],
    ids=[
        "not-base64",
        "empty",
        "unknown-location",
        "non-int-key",
        "unknown-evse",
        "unknown-station",
        "unknown-type",
        "empty-key",
        "no-colon",
    ],
)
async def test_unknown_or_malformed_ids_give_null(
    graphql: GraphQLClient, session_factory: SessionFactory, bad_id: str
) -> None:
    await make_location(session_factory)
    assert await graphql.data(NODE, id=bad_id) == {"node": None}
    assert await graphql.data(LOCATION, id=bad_id) == {"location": None}


async def test_location_does_not_resolve_other_node_types(
    graphql: GraphQLClient, session_factory: SessionFactory
) -> None:
    location = await make_location(session_factory)
    await make_station(session_factory, location=location)
    assert location.id is not None
    # An Evse's global id with the same number must not fetch the Location.
    assert await graphql.data(LOCATION, id=global_id("Evse", location.id)) == {"location": None}


async def test_regular_opening_hours_are_typed(
    graphql: GraphQLClient, session_factory: SessionFactory
) -> None:
    location = await make_location(session_factory)
    async with session_factory() as db:
        row = await db.get(type(location), location.id)
        assert row is not None
        row.opening_hours = {
            "twentyfourseven": False,
            "regular_hours": [
                {"weekday": 1, "period_begin": "08:00", "period_end": "20:00"},
                {"weekday": 6, "period_begin": "10:00", "period_end": "16:00"},
            ],
        }
        await db.commit()
    query = """query L($id: ID!) { location(id: $id) { openingHours { twentyfourseven
        regularHours { weekday periodBegin periodEnd } } } }"""
    data = await graphql.data(query, id=global_id("Location", location.id))
    assert data["location"]["openingHours"] == {
        "twentyfourseven": False,
        "regularHours": [
            {"weekday": 1, "periodBegin": "08:00", "periodEnd": "20:00"},
            {"weekday": 6, "periodBegin": "10:00", "periodEnd": "16:00"},
        ],
    }
