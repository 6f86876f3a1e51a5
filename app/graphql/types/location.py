"""Locations (OCPI Location): a site with coordinates, opening hours and EVSEs."""

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import strawberry
from strawberry import relay

from app.db import models
from app.domain.enums import EvseStatus
from app.graphql.context import Info
from app.graphql.types.station import Evse, eager_field
from app.services.location_rows import ConnectorRow, EvseRow

T = TypeVar("T")


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

    @eager_field(graphql_type=list[Evse])
    def evses(self, info: Info) -> list[Evse] | Awaitable[list[Evse]]:
        return self._with_evses(info, lambda rows: [Evse.from_row(row) for row in rows])

    @eager_field(description="EVSEs whose status is AVAILABLE now.", graphql_type=int)
    def available_evses(self, info: Info) -> int | Awaitable[int]:
        return self._with_evses(
            info, lambda rows: sum(1 for row in rows if row.status == EvseStatus.AVAILABLE)
        )

    @eager_field(graphql_type=int)
    def total_evses(self, info: Info) -> int | Awaitable[int]:
        return self._with_evses(info, len)

    @eager_field(
        description="The most powerful connector here, in kW; null without any.",
        graphql_type=float | None,
    )
    def max_power_kw(self, info: Info) -> float | Awaitable[float | None] | None:
        loaders = info.context.loaders
        evses = loaders.evses_of.get(self.id)
        if evses is not None:
            groups = [loaders.connectors_of.get(row.id) for row in evses if row.id is not None]
            if all(group is not None for group in groups):
                return _max_power_kw([c for group in groups if group for c in group])
        return self._load_max_power_kw(info)

    def _with_evses(self, info: Info, answer: Callable[[Sequence[EvseRow]], T]) -> T | Awaitable[T]:
        """`answer` over this location's EVSE rows: at once when the operation loaded them."""
        rows = info.context.loaders.evses_of.get(self.id)
        if rows is not None:
            return answer(rows)
        return self._load_evses(info, answer)

    async def _load_evses(self, info: Info, answer: Callable[[Sequence[EvseRow]], T]) -> T:
        return answer(await info.context.loaders.evses_by_location.load(self.id))

    async def _load_max_power_kw(self, info: Info) -> float | None:
        loaders = info.context.loaders
        evses = await loaders.evses_by_location.load(self.id)
        ids = [row.id for row in evses if row.id is not None]
        connectors = await loaders.connectors_by_evse.load_many(ids)
        return _max_power_kw([c for group in connectors for c in group])

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


def _max_power_kw(connectors: Sequence[ConnectorRow]) -> float | None:
    powers = [c.max_electric_power for c in connectors]
    return max(powers) / 1000 if powers else None


@strawberry.type(description="A page of locations.")
class LocationConnection(relay.Connection[Location]):
    total_count: int = strawberry.field(description="All locations matching the filter.")
