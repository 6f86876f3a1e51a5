"""locations: connector, power and availability filters, and cursor pagination."""

import random

import pytest
from sqlmodel import col, update

from app.db.engine import SessionFactory
from app.db.models import Evse, Location
from app.domain.enums import ConnectorStandard, EvseStatus, PowerType
from app.domain.geo import haversine_m
from tests.factories import make_location, make_station
from tests.graphql.conftest import GraphQLClient

PAGE = """
query Page($filter: LocationFilter, $first: Int, $after: String) {
  locations(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { name distanceMeters availableEvses totalEvses maxPowerKw } }
  }
}
"""


async def _site(
    session_factory: SessionFactory,
    name: str,
    standard: ConnectorStandard,
    power_w: int,
    status: EvseStatus = EvseStatus.UNKNOWN,
) -> Location:
    location = await make_location(session_factory, name=name)
    power_type = PowerType.DC if power_w > 43_000 else PowerType.AC_3_PHASE
    station = await make_station(
        session_factory,
        location=location,
        evses=2,
        standard=standard,
        power_type=power_type,
        max_power_w=power_w,
    )
    async with session_factory() as db:
        # Only the first EVSE takes `status`: filters must look at single EVSEs.
        await db.exec(
            update(Evse)
            .where(col(Evse.station_id) == station.id, col(Evse.ocpp_evse_id) == 1)
            .values(status=status)
        )
        await db.commit()
    return location


async def _names(graphql: GraphQLClient, **filter_: object) -> list[str]:
    data = await graphql.data(PAGE, filter=filter_)
    return [edge["node"]["name"] for edge in data["locations"]["edges"]]


@pytest.fixture
async def sites(session_factory: SessionFactory) -> None:
    await _site(session_factory, "ccs", ConnectorStandard.IEC_62196_T2_COMBO, 150_000)
    await _site(
        session_factory, "type2", ConnectorStandard.IEC_62196_T2, 22_000, EvseStatus.AVAILABLE
    )
    await _site(session_factory, "chademo", ConnectorStandard.CHADEMO, 50_000, EvseStatus.CHARGING)
    await _site(
        session_factory,
        "ccs-free",
        ConnectorStandard.IEC_62196_T2_COMBO,
        50_000,
        EvseStatus.AVAILABLE,
    )
    await make_location(session_factory, name="empty")


@pytest.mark.usefixtures("sites")
@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ({}, ["ccs", "type2", "chademo", "ccs-free", "empty"]),
        ({"connectorStandards": ["IEC_62196_T2_COMBO"]}, ["ccs", "ccs-free"]),
        ({"connectorStandards": ["CHADEMO", "IEC_62196_T2"]}, ["type2", "chademo"]),
        ({"connectorStandards": ["NACS"]}, []),
        ({"minPowerKw": 50}, ["ccs", "chademo", "ccs-free"]),
        ({"minPowerKw": 50.001}, ["ccs"]),
        ({"availableOnly": True}, ["type2", "ccs-free"]),
        ({"availableOnly": True, "minPowerKw": 40}, ["ccs-free"]),
        ({"availableOnly": True, "connectorStandards": ["CHADEMO"]}, []),
    ],
    ids=[
        "none",
        "ccs",
        "two-standards",
        "no-match",
        "power",
        "power-fraction",
        "available",
        "available-and-power",
        "available-chademo",
    ],
)
async def test_filters_on_connector_power_and_availability(
    graphql: GraphQLClient, filter_: dict[str, object], expected: list[str]
) -> None:
    assert await _names(graphql, **filter_) == expected


@pytest.mark.usefixtures("sites")
async def test_location_summary_counts_evses_and_power(graphql: GraphQLClient) -> None:
    data = await graphql.data(PAGE)
    summary = {
        e["node"]["name"]: (
            e["node"]["availableEvses"],
            e["node"]["totalEvses"],
            e["node"]["maxPowerKw"],
        )
        for e in data["locations"]["edges"]
    }
    assert summary == {
        "ccs": (0, 2, 150.0),
        "type2": (1, 2, 22.0),
        "chademo": (0, 2, 50.0),
        "ccs-free": (1, 2, 50.0),
        "empty": (0, 0, None),
    }


async def _walk(graphql: GraphQLClient, first: int, **filter_: object) -> list[dict[str, object]]:
    nodes: list[dict[str, object]] = []
    after = None
    for pages in range(1, 100):
        data = (await graphql.data(PAGE, filter=filter_, first=first, after=after))["locations"]
        info = data["pageInfo"]
        assert len(data["edges"]) <= first
        assert info["hasPreviousPage"] is (after is not None)
        if data["edges"]:
            assert info["startCursor"] == data["edges"][0]["cursor"]
            assert info["endCursor"] == data["edges"][-1]["cursor"]
        nodes.extend(edge["node"] for edge in data["edges"])
        if not info["hasNextPage"]:
            assert data["totalCount"] == len(nodes)
            assert pages == max(1, -(-len(nodes) // first))
            return nodes
        assert len(data["edges"]) == first
        after = info["endCursor"]
    raise AssertionError("pagination did not end")


async def test_pagination_by_id_walks_every_location_once(
    graphql: GraphQLClient, session_factory: SessionFactory
) -> None:
    created = [(await make_location(session_factory, name=f"L{i:02d}")).name for i in range(23)]
    for first in (1, 5, 23, 30):
        assert [n["name"] for n in await _walk(graphql, first)] == created


async def test_pagination_by_distance_walks_every_location_once_in_order(
    graphql: GraphQLClient, session_factory: SessionFactory
) -> None:
    rng = random.Random(7)
    center = (48.8566, 2.3522)
    points = [
        (center[0] + rng.uniform(-0.2, 0.2), center[1] + rng.uniform(-0.2, 0.2)) for _ in range(17)
    ]
    points += [points[3]] * 3  # equal distances: the tie is broken by id
    for i, (lat, lng) in enumerate(points):
        await make_location(session_factory, name=f"P{i:02d}", latitude=lat, longitude=lng)
    expected = sorted(range(len(points)), key=lambda i: (haversine_m(*center, *points[i]), i))
    near = {"latitude": center[0], "longitude": center[1]}
    for first in (1, 4, 20):
        nodes = await _walk(graphql, first, near=near, radiusMeters=100_000)
        assert [n["name"] for n in nodes] == [f"P{i:02d}" for i in expected]


async def test_first_above_the_page_size_limit_is_refused(graphql: GraphQLClient) -> None:
    messages = await graphql.error_messages(PAGE, first=101)
    assert messages == ["first 101 is above the page size limit: expected at most 100"]


async def test_negative_first_is_refused(graphql: GraphQLClient) -> None:
    messages = await graphql.error_messages(PAGE, first=-1)
    assert messages == ["first -1 is negative: expected 0 to 100"]


@pytest.mark.parametrize(
    "cursor", ["nonsense", "bG9jYXRpb246eDox", ""], ids=["text", "bad-key", "empty"]
)
async def test_a_foreign_cursor_is_refused(graphql: GraphQLClient, cursor: str) -> None:
    messages = await graphql.error_messages(PAGE, after=cursor)
    assert "is not a cursor" in messages[0] or "does not belong to this search" in messages[0]


async def test_stations_without_a_location_are_not_listed(
    graphql: GraphQLClient, session_factory: SessionFactory
) -> None:
    await make_station(session_factory, evses=2)
    data = await graphql.data(PAGE)
    assert data["locations"] == {
        "totalCount": 0,
        "pageInfo": {
            "hasNextPage": False,
            "hasPreviousPage": False,
            "startCursor": None,
            "endCursor": None,
        },
        "edges": [],
    }
