"""Locations (OCPI Location): a site with coordinates, opening hours and EVSEs."""

from collections.abc import Awaitable, Callable, Hashable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import strawberry
from strawberry import relay

from app.domain.enums import EvseStatus
from app.graphql.context import Context, Info
from app.graphql.subtree_cache import ABSENT, fingerprinted, intern
from app.graphql.types.station import Evse, eager_field
from app.services.location_rows import ConnectorRow, EvseRow, LocationRow, is_row

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
    @fingerprinted(lambda location, context: _evses_fingerprint(location.id, context))
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
    def from_row(cls, row: LocationRow, distance_m: float | None = None) -> "Location":
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


def _evses_fingerprint(location_id: int, context: Context) -> Hashable | None:
    """Everything a location's `evses` subtree can show, as this operation loaded it: the
    EVSE rows (every column), each EVSE's connector rows and each connector's tariff, ABSENT
    where not loaded (a field that needs it then awaits it, and an awaited completion is not
    kept). None, so not kept, when a part is an ORM object or stations were loaded (both
    compare by identity, and `Evse.station` shows the station)."""
    loaders = context.loaders
    evses = loaders.evses_of.get(location_id)
    if evses is None:
        return None
    connectors: list[Hashable] = []
    tariff_ids: set[int] = set()
    for evse in evses:
        if not is_row(evse) or evse.station_id in loaders.stations:
            return None
        group = loaders.connectors_of.get(evse.id) if evse.id is not None else None
        if group is None:
            connectors.append(ABSENT)
            continue
        for connector in group:
            if not is_row(connector):
                return None
            if connector.tariff_id is not None:
                tariff_ids.add(connector.tariff_id)
        connectors.append(tuple(group))
    return (
        tuple(evses),
        tuple(connectors),
        tuple(_tariff_key(context, i) for i in sorted(tariff_ids)),
    )


def _tariff_key(context: Context, tariff_id: int) -> Hashable:
    """The tariff as the operation loaded it, interned once per operation (a page's 150
    connectors share a tariff: its value is hashed once, not per location)."""
    loaders = context.loaders
    if tariff_id not in loaders.tariffs:
        return (tariff_id, ABSENT)
    views = loaders.views
    key = ("tariff fingerprint", tariff_id)
    found = views.get(key)
    if found is None:
        found = views[key] = (tariff_id, intern(loaders.tariffs[tariff_id]))
    return found


def _max_power_kw(connectors: Sequence[ConnectorRow]) -> float | None:
    powers = [c.max_electric_power for c in connectors]
    return max(powers) / 1000 if powers else None


@strawberry.type(description="A page of locations.")
class LocationConnection(relay.Connection[Location]):
    total_count: int = strawberry.field(description="All locations matching the filter.")
