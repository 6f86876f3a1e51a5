"""Per-request DataLoaders: one SQL query per kind of object per tick, whatever the page size."""

from collections.abc import Iterable, Sequence
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from strawberry.dataloader import DataLoader

from app.db.engine import SessionFactory
from app.db.models import ChargingStation, Connector, Evse, Location
from app.db.models import Tariff as TariffRow
from app.domain import tariffs as domain
from app.services import location_rows
from app.services import locations as service
from app.services import tariffs as tariff_service
from app.services.location_rows import ConnectorRow, EvseRow


class Loaders:
    """Batching readers keyed by id. Each batch opens its own short session.

    What a batch loaded is also kept in plain dicts (`evses_of`, `connectors_of`,
    `stations`): a resolver that finds its rows there answers synchronously, without
    the task an awaited load costs per field (a page of 50 locations has ~500 such fields).
    `views` holds API objects built once per operation (e.g. a tariff shared by 150 connectors).
    """

    def __init__(self, session_factory: SessionFactory) -> None:
        self._session_factory = session_factory
        self.evses_of: dict[int, Sequence[EvseRow]] = {}
        self.connectors_of: dict[int, Sequence[ConnectorRow]] = {}
        self.stations: dict[str, ChargingStation | None] = {}
        self.tariffs: dict[int, domain.Tariff | None] = {}
        self.views: dict[tuple[str, object], Any] = {}
        self.location = DataLoader[int, Location | None](load_fn=self._locations)
        self.evse = DataLoader[int, Evse | None](load_fn=self._evses)
        self.station = DataLoader[str, ChargingStation | None](load_fn=self._stations)
        self.evses_by_location = DataLoader[int, list[Evse]](load_fn=self._evses_by_location)
        self.connectors_by_evse = DataLoader[int, list[Connector]](load_fn=self._connectors)
        self.tariff = DataLoader[int, domain.Tariff | None](load_fn=self._tariffs)

    async def prefetch_location_tree(
        self,
        location_ids: Iterable[int],
        *,
        connectors: bool,
        tariffs: bool,
        stations: bool,
        db: AsyncSession | None = None,
    ) -> None:
        """Load the EVSEs of these locations and, as asked, their connectors, the connectors'
        tariffs and the EVSEs' stations: one query each, so the fields below answer at once.
        EVSEs and connectors come as plain rows (`services.location_rows`), not ORM objects.
        With `db` (the caller's open session) the EVSEs, connectors and tariffs are read in it,
        else in a session of their own."""
        if db is None:
            async with self._session_factory() as own:
                return await self.prefetch_location_tree(
                    location_ids, connectors=connectors, tariffs=tariffs, stations=stations, db=own
                )
        ids = list(location_ids)
        grouped = await location_rows.evse_rows_by_location(db=db, location_ids=ids)
        evses = [evse for i in ids for evse in grouped.get(i, [])]
        self.evses_of.update((i, grouped.get(i, [])) for i in ids)
        if connectors or tariffs:
            evse_ids = [evse.id for evse in evses if evse.id is not None]
            found = await location_rows.connector_rows_by_evse(db=db, evse_ids=evse_ids)
            self.connectors_of.update((i, found.get(i, [])) for i in evse_ids)
        if tariffs:
            keys = {c.tariff_id for group in found.values() for c in group}
            missing = sorted(k for k in keys if k is not None and k not in self.tariffs)
            if missing:
                self._tariffs_loaded(
                    missing, await tariff_service.tariffs_by_id(db=db, ids=missing)
                )
        if stations:
            await self.station.load_many(sorted({evse.station_id for evse in evses}))
        return None

    async def _locations(self, ids: list[int]) -> list[Location | None]:
        async with self._session_factory() as db:
            rows = {row.id: row for row in await service.locations_by_id(db=db, ids=ids)}
        return [rows.get(i) for i in ids]

    async def _evses(self, ids: list[int]) -> list[Evse | None]:
        async with self._session_factory() as db:
            rows = {row.id: row for row in await service.evses_by_id(db=db, ids=ids)}
        return [rows.get(i) for i in ids]

    async def _stations(self, ids: list[str]) -> list[ChargingStation | None]:
        async with self._session_factory() as db:
            rows = {row.id: row for row in await service.stations_by_id(db=db, ids=ids)}
        found = [rows.get(i) for i in ids]
        self.stations.update(zip(ids, found, strict=True))
        return found

    async def _evses_by_location(self, ids: list[int]) -> list[list[Evse]]:
        async with self._session_factory() as db:
            grouped = await service.evses_by_location(db=db, location_ids=ids)
        found = [grouped.get(i, []) for i in ids]
        self.evses_of.update(zip(ids, found, strict=True))
        return found

    async def _connectors(self, ids: list[int]) -> list[list[Connector]]:
        async with self._session_factory() as db:
            grouped = await service.connectors_by_evse(db=db, evse_ids=ids)
        found = [grouped.get(i, []) for i in ids]
        self.connectors_of.update(zip(ids, found, strict=True))
        return found

    async def _tariffs(self, ids: list[int]) -> list[domain.Tariff | None]:
        async with self._session_factory() as db:
            rows = await tariff_service.tariffs_by_id(db=db, ids=ids)
        return self._tariffs_loaded(ids, rows)

    def _tariffs_loaded(
        self, ids: list[int], rows: Sequence[TariffRow]
    ) -> list[domain.Tariff | None]:
        """Parse and keep the tariffs read for `ids` (None where there is no row), for the
        synchronous path (`tariffs`) and the loader alike."""
        parsed = {row.id: tariff_service.tariff_from_row(row) for row in rows}
        found = [parsed.get(i) for i in ids]
        self.tariffs.update(zip(ids, found, strict=True))
        self.tariff.prime_many(dict(zip(ids, found, strict=True)))
        return found
