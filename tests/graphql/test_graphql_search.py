"""locations(filter: {near, radiusMeters, bbox}): distances, radius, boxes and input checks."""

import pytest

from app.db.engine import SessionFactory
from app.domain.geo import haversine_m
from tests.factories import make_location
from tests.graphql.conftest import GraphQLClient

AMSTERDAM = (52.3702, 4.8952)
UTRECHT = (52.0907, 5.1214)
ROTTERDAM = (51.9244, 4.4777)
BERLIN = (52.5200, 13.4050)

SEARCH = """
query Search($filter: LocationFilter, $first: Int) {
  locations(filter: $filter, first: $first) {
    totalCount
    edges { node { name distanceMeters coordinates { latitude longitude } } }
  }
}
"""


async def _cities(session_factory: SessionFactory) -> None:
    # Created far-first, so ordering by id would give the wrong answer.
    for name, (lat, lng) in [
        ("Berlin", BERLIN),
        ("Rotterdam", ROTTERDAM),
        ("Utrecht", UTRECHT),
        ("Amsterdam", AMSTERDAM),
    ]:
        await make_location(session_factory, name=name, latitude=lat, longitude=lng)


def _near(point: tuple[float, float], radius_m: float | None = None) -> dict[str, object]:
    near = {"latitude": point[0], "longitude": point[1]}
    return {"near": near} if radius_m is None else {"near": near, "radiusMeters": radius_m}


async def test_near_returns_nearest_first_with_great_circle_distances(
    graphql: GraphQLClient, session_factory: SessionFactory
) -> None:
    await _cities(session_factory)
    data = await graphql.data(SEARCH, filter=_near(AMSTERDAM, 100_000))
    nodes = [edge["node"] for edge in data["locations"]["edges"]]
    assert [n["name"] for n in nodes] == ["Amsterdam", "Utrecht", "Rotterdam"]
    assert data["locations"]["totalCount"] == 3
    for n in nodes:
        point = n["coordinates"]
        expected = haversine_m(*AMSTERDAM, point["latitude"], point["longitude"])
        assert n["distanceMeters"] == pytest.approx(expected, abs=0.01)
    # Independent check of the figures: Amsterdam-Utrecht ~35 km, Amsterdam-Rotterdam ~57 km.
    assert nodes[0]["distanceMeters"] == pytest.approx(0.0, abs=0.01)
    assert nodes[1]["distanceMeters"] == pytest.approx(35_300, rel=0.02)
    assert nodes[2]["distanceMeters"] == pytest.approx(57_100, rel=0.02)


@pytest.mark.parametrize(
    ("radius_m", "expected"),
    [
        (1_000, ["Amsterdam"]),
        (40_000, ["Amsterdam", "Utrecht"]),
        (600_000, None),  # above the maximum radius: refused below
    ],
    ids=["1km", "40km", "too-far"],
)
async def test_radius_excludes_farther_locations(
    graphql: GraphQLClient, session_factory: SessionFactory, radius_m: float, expected: list[str]
) -> None:
    await _cities(session_factory)
    if expected is None:
        messages = await graphql.error_messages(SEARCH, filter=_near(AMSTERDAM, radius_m))
        assert "radiusMeters 600000.0" in messages[0]
        assert "at most 500000" in messages[0]
        return
    data = await graphql.data(SEARCH, filter=_near(AMSTERDAM, radius_m))
    assert [e["node"]["name"] for e in data["locations"]["edges"]] == expected


async def test_near_without_radius_uses_50_km(
    graphql: GraphQLClient, session_factory: SessionFactory
) -> None:
    await _cities(session_factory)
    data = await graphql.data(SEARCH, filter=_near(AMSTERDAM))
    assert [e["node"]["name"] for e in data["locations"]["edges"]] == ["Amsterdam", "Utrecht"]


async def test_near_finds_locations_across_the_antimeridian(
    graphql: GraphQLClient, session_factory: SessionFactory
) -> None:
    await make_location(session_factory, name="East", latitude=-17.0, longitude=179.95)
    await make_location(session_factory, name="West", latitude=-17.0, longitude=-179.9)
    await make_location(session_factory, name="Greenwich", latitude=51.48, longitude=0.0)
    data = await graphql.data(SEARCH, filter=_near((-17.0, 179.99), 20_000))
    nodes = [edge["node"] for edge in data["locations"]["edges"]]
    assert [n["name"] for n in nodes] == ["East", "West"]
    assert nodes[1]["distanceMeters"] == pytest.approx(
        haversine_m(-17.0, 179.99, -17.0, -179.9), abs=0.01
    )


def _box(min_lat: float, min_lng: float, max_lat: float, max_lng: float) -> dict[str, object]:
    return {
        "bbox": {
            "minLatitude": min_lat,
            "minLongitude": min_lng,
            "maxLatitude": max_lat,
            "maxLongitude": max_lng,
        }
    }


@pytest.mark.parametrize(
    ("box", "expected"),
    [
        (_box(50.7, 3.3, 53.6, 7.3), ["Rotterdam", "Utrecht", "Amsterdam"]),
        (_box(*UTRECHT, *AMSTERDAM), ["Utrecht", "Amsterdam"]),  # corners on points: inclusive
        (_box(*AMSTERDAM, *AMSTERDAM), ["Amsterdam"]),  # a box of one point
        (_box(10.0, 10.0, 20.0, 20.0), []),
    ],
    ids=["netherlands", "edges-inclusive", "single-point", "empty"],
)
async def test_bbox_keeps_locations_inside_ordered_by_id(
    graphql: GraphQLClient,
    session_factory: SessionFactory,
    box: dict[str, object],
    expected: list[str],
) -> None:
    await _cities(session_factory)
    data = await graphql.data(SEARCH, filter=box)
    nodes = [edge["node"] for edge in data["locations"]["edges"]]
    assert [n["name"] for n in nodes] == expected
    assert all(n["distanceMeters"] is None for n in nodes)
    assert data["locations"]["totalCount"] == len(expected)


async def test_bbox_with_min_longitude_above_max_crosses_the_antimeridian(
    graphql: GraphQLClient, session_factory: SessionFactory
) -> None:
    await make_location(session_factory, name="East", latitude=-17.0, longitude=179.5)
    await make_location(session_factory, name="West", latitude=-17.0, longitude=-179.5)
    await make_location(session_factory, name="Greenwich", latitude=-17.0, longitude=0.0)
    data = await graphql.data(SEARCH, filter=_box(-20.0, 179.0, -10.0, -179.0))
    assert [e["node"]["name"] for e in data["locations"]["edges"]] == ["East", "West"]


@pytest.mark.parametrize(
    ("bad_filter", "named"),
    [
        (_near((91.0, 4.0), 1000), "latitude 91.0"),
        (_near((-90.5, 4.0), 1000), "latitude -90.5"),
        (_near((52.0, 180.5), 1000), "longitude 180.5"),
        (_near((52.0, -181.0), 1000), "longitude -181.0"),
        (_near(AMSTERDAM, 0), "radiusMeters 0.0"),
        (_near(AMSTERDAM, -5), "radiusMeters -5.0"),
        ({"radiusMeters": 1000.0}, "give `near` too"),
        (_box(53.0, 4.0, 52.0, 5.0), "minLatitude 53.0 is above maxLatitude 52.0"),
        (_box(-95.0, 4.0, 52.0, 5.0), "minLatitude -95.0"),
        (_box(50.0, 4.0, 52.0, 190.0), "maxLongitude 190.0"),
        ({"minPowerKw": -1.0}, "-1000"),
    ],
    ids=[
        "lat-high",
        "lat-low",
        "lng-high",
        "lng-low",
        "radius-zero",
        "radius-negative",
        "radius-alone",
        "box-inverted",
        "box-lat",
        "box-lng",
        "power-negative",
    ],
)
async def test_bad_search_input_is_refused_naming_the_value(
    graphql: GraphQLClient, bad_filter: dict[str, object], named: str
) -> None:
    body = await graphql.execute(SEARCH, filter=bad_filter)
    assert body["data"] is None
    assert [e["path"] for e in body["errors"]] == [["locations"]]
    assert named in body["errors"][0]["message"]
