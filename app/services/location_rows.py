"""Read-only location, EVSE and connector rows for a page of locations, as plain result rows.

A search page shows 50 locations, ~150 EVSEs and ~150 connectors; building them as ORM objects
(SQLModel validation plus SQLAlchemy instrumentation) cost about a third of the page's CPU.
These reads return SQLAlchemy's light `Row`s, which carry the same attribute names as the
models (and compare by value, so the GraphQL layer can key completed subtrees by them).
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, cast

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.models import ChargingStation, Connector, Evse, Location
from app.domain.enums import ConnectorFormat, ConnectorStandard, EvseStatus, PowerType


class LocationRow(Protocol):
    """What a location row offers (a `models.Location` does too)."""

    @property
    def id(self) -> int | None: ...
    @property
    def name(self) -> str: ...
    @property
    def address(self) -> str: ...
    @property
    def city(self) -> str: ...
    @property
    def postal_code(self) -> str: ...
    @property
    def country(self) -> str: ...
    @property
    def latitude(self) -> float: ...
    @property
    def longitude(self) -> float: ...
    @property
    def time_zone(self) -> str: ...
    @property
    def opening_hours(self) -> dict[str, Any] | None: ...
    @property
    def updated_at(self) -> datetime: ...


class EvseRow(Protocol):
    """What an EVSE row offers (a `models.Evse` does too)."""

    @property
    def id(self) -> int | None: ...
    @property
    def uid(self) -> str: ...
    @property
    def status(self) -> EvseStatus: ...
    @property
    def status_updated_at(self) -> datetime: ...
    @property
    def station_id(self) -> str: ...


class ConnectorRow(Protocol):
    """What a connector row offers (a `models.Connector` does too)."""

    @property
    def evse_id(self) -> int: ...
    @property
    def standard(self) -> ConnectorStandard: ...
    @property
    def format(self) -> ConnectorFormat: ...
    @property
    def power_type(self) -> PowerType: ...
    @property
    def max_voltage(self) -> int: ...
    @property
    def max_amperage(self) -> int: ...
    @property
    def max_electric_power(self) -> int: ...
    @property
    def tariff_id(self) -> int | None: ...


def is_row(value: object) -> bool:
    """Whether `value` is a plain result row (hashed and compared by its values), not an ORM
    object (compared by identity)."""
    return isinstance(value, sa.Row)


async def location_rows_by_id(*, db: AsyncSession, ids: Sequence[int]) -> list[LocationRow]:
    """The locations with these ids, in no particular order."""
    if not ids:
        return []
    location = Location.__table__  # type: ignore[attr-defined]
    statement = sa.select(location).where(location.c.id.in_(ids))
    result = await (await db.connection()).execute(statement)
    return [cast(LocationRow, row) for row in result]


async def evse_rows_by_location(
    *, db: AsyncSession, location_ids: Sequence[int]
) -> dict[int, list[EvseRow]]:
    """EVSEs of each location (through its stations), ordered by station and EVSE number,
    as `services.locations.evses_by_location` orders them."""
    grouped: dict[int, list[EvseRow]] = defaultdict(list)
    if not location_ids:
        return grouped
    evse = Evse.__table__  # type: ignore[attr-defined]
    station = ChargingStation.__table__  # type: ignore[attr-defined]
    statement = (
        sa.select(station.c.location_id.label("location_key"), *evse.c)
        .join_from(evse, station, evse.c.station_id == station.c.id)
        .where(station.c.location_id.in_(location_ids))
        .order_by(evse.c.station_id, evse.c.ocpp_evse_id)
    )
    result = await (await db.connection()).execute(statement)
    for row in result:
        grouped[row.location_key].append(cast(EvseRow, row))
    return grouped


async def connector_rows_by_evse(
    *, db: AsyncSession, evse_ids: Sequence[int]
) -> dict[int, list[ConnectorRow]]:
    """Connectors of each EVSE, ordered by connector number."""
    grouped: dict[int, list[ConnectorRow]] = defaultdict(list)
    if not evse_ids:
        return grouped
    connector = Connector.__table__  # type: ignore[attr-defined]
    statement = (
        sa.select(connector)
        .where(connector.c.evse_id.in_(evse_ids))
        .order_by(connector.c.evse_id, connector.c.ocpp_connector_id)
    )
    result = await (await db.connection()).execute(statement)
    for row in result:
        grouped[row.evse_id].append(cast(ConnectorRow, row))
    return grouped
