"""Great-circle distances and bounding boxes for location search."""

import math
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True, slots=True)
class BoundingBox:
    min_lat: float
    min_lng: float
    max_lat: float
    max_lng: float

    def contains(self, lat: float, lng: float) -> bool:
        if not self.min_lat <= lat <= self.max_lat:
            return False
        if self.min_lng <= self.max_lng:
            return self.min_lng <= lng <= self.max_lng
        return lng >= self.min_lng or lng <= self.max_lng  # crosses the antimeridian


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Distance in metres between two WGS84 points on a spherical earth (error < 0.5 %)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def box_around(lat: float, lng: float, radius_m: float) -> BoundingBox:
    """The smallest lat/lng box containing the circle; used as an index-friendly prefilter."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    min_lat, max_lat = lat - dlat, lat + dlat
    if min_lat <= -90 or max_lat >= 90:
        return BoundingBox(max(min_lat, -90.0), -180.0, min(max_lat, 90.0), 180.0)
    dlng = math.degrees(radius_m / (EARTH_RADIUS_M * math.cos(math.radians(lat))))
    if dlng >= 180:
        return BoundingBox(min_lat, -180.0, max_lat, 180.0)
    min_lng, max_lng = lng - dlng, lng + dlng
    if min_lng < -180:
        min_lng += 360
    if max_lng > 180:
        max_lng -= 360
    return BoundingBox(min_lat, min_lng, max_lat, max_lng)
