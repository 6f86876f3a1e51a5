"""Locations (OCPI Location): a site with coordinates, opening hours and EVSEs."""

from datetime import datetime
from typing import Any

import strawberry
from strawberry import relay

from app.db import models
from app.domain.enums import EvseStatus
from app.graphql import fields
from app.graphql.context import Info
from app.graphql.types.station import Evse


@strawberry.type(description="A WGS84 point.")
class GeoPoint:
    latitude: float
    longitude: float


@strawberry.type(description="Opening period on one weekday (OCPI RegularHours).")
class RegularHours:
    weekday: int = strawberry.field(description="1 = Monday ... 7 = Sunday.")
    period_begin: str = strawberry.field(description="Local time, HH:MM.")
    period_end: str = strawberry.field(description="Local time, HH:MM.")


@strawberry.type(description="When the location is open (OCPI Hours).")
class OpeningHours:
    twentyfourseven: bool
    regular_hours: list[RegularHours]

    @classmethod
    def from_json(cls, value: dict[str, Any] | None) -> "OpeningHours":
        """OCPI Hours JSON; a location without hours counts as always open."""
        if not value:
            return cls(twentyfourseven=True, regular_hours=[])
        regular = [
            RegularHours(
                weekday=int(item["weekday"]),
                period_begin=str(item["period_begin"]),
                period_end=str(item["period_end"]),
            )
            for item in value.get("regular_hours") or []
        ]
        return cls(twentyfourseven=bool(value.get("twentyfourseven", False)), regular_hours=regular)


@strawberry.type(description="A site with one or more charging stations.")
class Location(relay.Node):
    id: relay.NodeID[int]
    name: str
    address: str
    city: str
    postal_code: str
    country: str = strawberry.field(description="ISO 3166-1 alpha-3.")
    coordinates: GeoPoint
    time_zone: str = strawberry.field(description="IANA time zone, e.g. Europe/Amsterdam.")
    opening_hours: OpeningHours
    last_updated: datetime
    distance_meters: float | None = strawberry.field(
        description="Great-circle distance from the search point; null without `near`."
    )

    @strawberry.field
    async def evses(self, info: Info) -> list[Evse]:
        rows = await info.context.loaders.evses_by_location.load(self.id)
        return [Evse.from_row(row) for row in rows]

    @fields.field(description="EVSEs whose status is AVAILABLE now.")
    async def available_evses(self, info: Info) -> int:
        rows = await info.context.loaders.evses_by_location.load(self.id)
        return sum(1 for row in rows if row.status == EvseStatus.AVAILABLE)

    @strawberry.field
    async def total_evses(self, info: Info) -> int:
        return len(await info.context.loaders.evses_by_location.load(self.id))

    @fields.field(description="The most powerful connector here, in kW; null without any.")
    async def max_power_kw(self, info: Info) -> float | None:
        loaders = info.context.loaders
        evses = await loaders.evses_by_location.load(self.id)
        ids = [row.id for row in evses if row.id is not None]
        connectors = await loaders.connectors_by_evse.load_many(ids)
        powers = [c.max_electric_power for group in connectors for c in group]
        return max(powers) / 1000 if powers else None

    @classmethod
    def from_row(cls, row: models.Location, distance_m: float | None = None) -> "Location":
        assert row.id is not None
        return cls(
            id=row.id,
            name=row.name,
            address=row.address,
            city=row.city,
            postal_code=row.postal_code,
            country=row.country,
            coordinates=GeoPoint(latitude=row.latitude, longitude=row.longitude),
            time_zone=row.time_zone,
            opening_hours=OpeningHours.from_json(row.opening_hours),
            last_updated=row.updated_at,
            distance_meters=distance_m,
        )


@strawberry.type(description="A page of locations.")
class LocationConnection(relay.Connection[Location]):
    total_count: int = strawberry.field(description="All locations matching the filter.")
