"""A station's configuration as last read (GetConfiguration / GetVariables) or set, per key."""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlmodel import col, select

from app.db.engine import SessionFactory
from app.db.models import ChargingStation, Location, StationConfigurationEntry
from app.domain.errors import NotFound
from app.services.alerts import OperatorScope


async def station_in_scope(
    *, session_factory: SessionFactory, scope: OperatorScope, station_id: str
) -> ChargingStation:
    """The station if it is in the caller's network; NotFound otherwise (no existence leak)."""
    async with session_factory() as db:
        station = await db.get(ChargingStation, station_id)
        if station is None:
            raise NotFound("ChargingStation", station_id)
        if scope.operator_id is not None:
            location = await db.get(Location, station.location_id) if station.location_id else None
            if location is None or location.operator_id != scope.operator_id:
                raise NotFound("ChargingStation", station_id)
        return station


async def _upsert(
    session_factory: SessionFactory,
    station_id: str,
    entries: Iterable[tuple[str, str | None, bool | None]],
    at: datetime,
) -> None:
    async with session_factory() as db:
        for key, value, readonly in entries:
            row = await db.get(StationConfigurationEntry, (station_id, key[:120]))
            if row is None:
                row = StationConfigurationEntry(station_id=station_id, key=key[:120], read_at=at)
            row.value = value[:1000] if value is not None else None
            if readonly is not None:
                row.readonly = readonly
            row.read_at = at
            db.add(row)
        await db.commit()


async def store_read(
    *,
    session_factory: SessionFactory,
    station_id: str,
    entries: Iterable[Mapping[str, Any]],
    at: datetime,
) -> None:
    """Keep what the station answered (key, value, readonly), each with the read time.

    Keys the station did not return keep their earlier value and time: a partial read
    refreshes only what it read.
    """
    rows = [
        (str(e["key"]), None if e.get("value") is None else str(e["value"]), e.get("readonly"))
        for e in entries
    ]
    await _upsert(session_factory, station_id, rows, at)


async def store_set(
    *, session_factory: SessionFactory, station_id: str, key: str, value: str, at: datetime
) -> None:
    """A value the station accepted (ChangeConfiguration / SetVariables), as of `at`."""
    await _upsert(session_factory, station_id, [(key, value, None)], at)


async def list_configuration(
    *, session_factory: SessionFactory, station_id: str
) -> list[StationConfigurationEntry]:
    """The stored configuration, by key (the caller has checked the scope)."""
    async with session_factory() as db:
        rows = await db.exec(
            select(StationConfigurationEntry)
            .where(StationConfigurationEntry.station_id == station_id)
            .order_by(col(StationConfigurationEntry.key))
        )
        return list(rows.all())
