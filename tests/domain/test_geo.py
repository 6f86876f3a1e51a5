"""Distances and bounding boxes."""

import pytest

from app.domain.geo import box_around, haversine_m

AMSTERDAM = (52.3702, 4.8952)
ROTTERDAM = (51.9244, 4.4777)


def test_haversine_matches_a_known_distance() -> None:
    # Amsterdam to Rotterdam: the centres are about 57.1 km apart.
    assert haversine_m(*AMSTERDAM, *ROTTERDAM) == pytest.approx(57_100, rel=0.01)
    assert haversine_m(*AMSTERDAM, *AMSTERDAM) == 0.0


@pytest.mark.parametrize("radius_m", [10.0, 1_000.0, 50_000.0], ids=["10m", "1km", "50km"])
def test_box_contains_every_point_of_the_circle(radius_m: float) -> None:
    box = box_around(*AMSTERDAM, radius_m)
    for bearing_lat, bearing_lng in [(1, 0), (-1, 0), (0, 1), (0, -1)]:
        # Step just inside the radius along each axis and check the box holds the point.
        lat = AMSTERDAM[0] + bearing_lat * (box.max_lat - AMSTERDAM[0]) * 0.999
        lng = AMSTERDAM[1] + bearing_lng * (box.max_lng - AMSTERDAM[1]) * 0.999
        assert box.contains(lat, lng)
        assert haversine_m(*AMSTERDAM, lat, lng) <= radius_m * 1.001
    assert not box.contains(AMSTERDAM[0] + 1.0, AMSTERDAM[1])


def test_box_across_the_antimeridian_wraps() -> None:
    box = box_around(0.0, 179.99, 5_000.0)
    assert box.min_lng > box.max_lng
    assert box.contains(0.0, -179.99)
    assert box.contains(0.0, 179.95)
    assert not box.contains(0.0, 0.0)


def test_box_near_a_pole_spans_all_longitudes() -> None:
    box = box_around(89.99, 0.0, 5_000.0)
    assert (box.min_lng, box.max_lng) == (-180.0, 180.0)
