"""Location search (near a point, in a box, by connector, power, availability) and batch reads."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.models import ChargingStation, Connector, Evse, Location
from app.domain.enums import ConnectorStandard, EvseStatus
from app.domain.errors import InvalidInput
from app.domain.geo import BoundingBox, box_around, haversine_m
from app.services.location_rows import LocationRow, location_rows_by_id

MAX_RADIUS_M = 500_000.0
DEFAULT_RADIUS_M = 50_000.0


@dataclass(frozen=True, slots=True)
class LocationQuery:
    """What a driver searches for. Connector, power and availability must hold on one EVSE."""

    near: tuple[float, float] | None = None
    radius_m: float | None = None
    bbox: BoundingBox | None = None
    connector_standards: frozenset[ConnectorStandard] = frozenset()
    min_power_w: int | None = None
    available_only: bool = False


@dataclass(frozen=True, slots=True)
class LocationHit:
    location: LocationRow
    distance_m: float | None
    cursor: str


@dataclass(frozen=True, slots=True)
class LocationPage:
    hits: list[LocationHit]
    total_count: int
    has_next_page: bool
    has_previous_page: bool


def check_latitude(value: float, name: str = "latitude") -> None:
    if not -90.0 <= value <= 90.0:
        raise InvalidInput(f"{name} {value!r} is out of range: expected -90 to 90 degrees")


def check_longitude(value: float, name: str = "longitude") -> None:
    if not -180.0 <= value <= 180.0:
        raise InvalidInput(f"{name} {value!r} is out of range: expected -180 to 180 degrees")


def validate(query: LocationQuery) -> None:
    """Raise InvalidInput naming the first bad value of `query`."""
    if query.near is not None:
        check_latitude(query.near[0])
        check_longitude(query.near[1])
    if query.radius_m is not None:
        if query.near is None:
            raise InvalidInput("radiusMeters needs a point to measure from: give `near` too")
        if not 0 < query.radius_m <= MAX_RADIUS_M:
            raise InvalidInput(
                f"radiusMeters {query.radius_m!r} is out of range: expected more than 0 "
                f"and at most {MAX_RADIUS_M:.0f}"
            )
    if (box := query.bbox) is not None:
        check_latitude(box.min_lat, "minLatitude")
        check_latitude(box.max_lat, "maxLatitude")
        check_longitude(box.min_lng, "minLongitude")
        check_longitude(box.max_lng, "maxLongitude")
        if box.min_lat > box.max_lat:
            raise InvalidInput(
                f"minLatitude {box.min_lat!r} is above maxLatitude {box.max_lat!r}: "
                "expected minLatitude <= maxLatitude"
            )
    if query.min_power_w is not None and query.min_power_w < 0:
        raise InvalidInput(f"minimum power {query.min_power_w!r} W is negative: expected >= 0")


def _in_box(box: BoundingBox) -> sa.ColumnElement[bool]:
    lat, lng = col(Location.latitude), col(Location.longitude)
    in_lat = lat.between(box.min_lat, box.max_lat)
    if box.min_lng <= box.max_lng:
        return sa.and_(in_lat, lng.between(box.min_lng, box.max_lng))
    return sa.and_(in_lat, sa.or_(lng >= box.min_lng, lng <= box.max_lng))  # antimeridian


def _conditions(query: LocationQuery) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if query.bbox is not None:
        conditions.append(_in_box(query.bbox))
    if query.near is not None:
        radius = query.radius_m or DEFAULT_RADIUS_M
        conditions.append(_in_box(box_around(query.near[0], query.near[1], radius)))
    evse_conditions: list[sa.ColumnElement[bool]] = []
    if query.available_only:
        evse_conditions.append(col(Evse.status) == EvseStatus.AVAILABLE)
    if query.connector_standards:
        evse_conditions.append(col(Connector.standard).in_(sorted(query.connector_standards)))
    if query.min_power_w is not None:
        evse_conditions.append(col(Connector.max_electric_power) >= query.min_power_w)
    if evse_conditions:
        matching_evse = (
            sa.select(sa.literal(1))
            .select_from(ChargingStation)
            .join(Evse, col(Evse.station_id) == col(ChargingStation.id))
            .join(Connector, col(Connector.evse_id) == col(Evse.id))
            .where(col(ChargingStation.location_id) == col(Location.id), *evse_conditions)
        )
        conditions.append(matching_evse.exists())
    return conditions


def _parse_cursor(after: str, *, by_distance: bool) -> tuple[float, int]:
    kind, _, rest = after.partition(":")
    try:
        if by_distance and kind == "d":
            distance, _, ident = rest.partition(":")
            return float(distance), int(ident)
        if not by_distance and kind == "i":
            return 0.0, int(rest)
    except ValueError:
        pass
    raise InvalidInput(f"cursor {after!r} does not belong to this search: expected an endCursor")


async def search_locations(
    *, db: AsyncSession, query: LocationQuery, first: int, after: str | None = None
) -> LocationPage:
    """One page of matching locations: nearest first with `near`, else by id.

    With `near`, the SQL prefilter is the box around the circle (index on latitude, longitude)
    and the exact great-circle distance is computed here. Cursors are opaque strings.
    """
    validate(query)
    if first < 0:
        raise InvalidInput(f"first {first!r} is negative: expected 0 or more")
    conditions = _conditions(query)
    if query.near is not None:
        return await _search_by_distance(db, query, conditions, first, after)
    total = (await db.exec(select(sa.func.count()).select_from(Location).where(*conditions))).one()
    table = Location.__table__  # type: ignore[attr-defined]
    statement = sa.select(table).where(*conditions).order_by(table.c.id).limit(first + 1)
    if after is not None:
        _, after_id = _parse_cursor(after, by_distance=False)
        statement = statement.where(table.c.id > after_id)
    rows: list[LocationRow] = list((await (await db.connection()).execute(statement)).all())
    hits = [LocationHit(row, None, f"i:{row.id}") for row in rows[:first]]
    return LocationPage(hits, int(total), len(rows) > first, after is not None)


async def _search_by_distance(
    db: AsyncSession,
    query: LocationQuery,
    conditions: list[sa.ColumnElement[bool]],
    first: int,
    after: str | None,
) -> LocationPage:
    assert query.near is not None
    lat, lng = query.near
    radius = query.radius_m or DEFAULT_RADIUS_M
    candidates = await db.exec(
        select(col(Location.id), col(Location.latitude), col(Location.longitude)).where(*conditions)
    )
    ranked = sorted(
        (distance, ident)
        for ident, row_lat, row_lng in candidates.all()
        if ident is not None and (distance := haversine_m(lat, lng, row_lat, row_lng)) <= radius
    )
    start = 0
    if after is not None:
        key = _parse_cursor(after, by_distance=True)
        start = next((i for i, item in enumerate(ranked) if item > key), len(ranked))
    window = ranked[start : start + first]
    found = await location_rows_by_id(db=db, ids=[i for _, i in window])
    rows = {row.id: row for row in found}
    hits = [LocationHit(rows[i], d, f"d:{d!r}:{i}") for d, i in window if i in rows]
    return LocationPage(hits, len(ranked), start + first < len(ranked), after is not None)


async def locations_by_id(*, db: AsyncSession, ids: Sequence[int]) -> list[Location]:
    if not ids:
        return []
    return list((await db.exec(select(Location).where(col(Location.id).in_(ids)))).all())


async def evses_by_id(*, db: AsyncSession, ids: Sequence[int]) -> list[Evse]:
    if not ids:
        return []
    return list((await db.exec(select(Evse).where(col(Evse.id).in_(ids)))).all())


async def stations_by_id(*, db: AsyncSession, ids: Sequence[str]) -> list[ChargingStation]:
    if not ids:
        return []
    statement = select(ChargingStation).where(col(ChargingStation.id).in_(ids))
    return list((await db.exec(statement)).all())


async def evses_by_location(
    *, db: AsyncSession, location_ids: Sequence[int]
) -> dict[int, list[Evse]]:
    """EVSEs of each location (through its stations), ordered by station and EVSE number."""
    grouped: dict[int, list[Evse]] = defaultdict(list)
    if not location_ids:
        return grouped
    statement = (
        select(ChargingStation.location_id, Evse)
        .join(ChargingStation, col(Evse.station_id) == col(ChargingStation.id))
        .where(col(ChargingStation.location_id).in_(location_ids))
        .order_by(col(Evse.station_id), col(Evse.ocpp_evse_id))
    )
    for location_id, evse in (await db.exec(statement)).all():
        if location_id is not None:
            grouped[location_id].append(evse)
    return grouped


async def connectors_by_evse(
    *, db: AsyncSession, evse_ids: Iterable[int]
) -> dict[int, list[Connector]]:
    grouped: dict[int, list[Connector]] = defaultdict(list)
    ids = list(evse_ids)
    if not ids:
        return grouped
    statement = (
        select(Connector)
        .where(col(Connector.evse_id).in_(ids))
        .order_by(col(Connector.evse_id), col(Connector.ocpp_connector_id))
    )
    for connector in (await db.exec(statement)).all():
        grouped[connector.evse_id].append(connector)
    return grouped
