"""Per-request DataLoaders: one SQL query per kind of object per tick, whatever the page size."""

from strawberry.dataloader import DataLoader

from app.db.engine import SessionFactory
from app.db.models import ChargingStation, Connector, Evse, Location
from app.services import locations as service


class Loaders:
    """Batching readers keyed by id. Each batch opens its own short session."""

    def __init__(self, session_factory: SessionFactory) -> None:
        self._session_factory = session_factory
        self.location = DataLoader[int, Location | None](load_fn=self._locations)
        self.evse = DataLoader[int, Evse | None](load_fn=self._evses)
        self.station = DataLoader[str, ChargingStation | None](load_fn=self._stations)
        self.evses_by_location = DataLoader[int, list[Evse]](load_fn=self._evses_by_location)
        self.connectors_by_evse = DataLoader[int, list[Connector]](load_fn=self._connectors)

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
        return [rows.get(i) for i in ids]

    async def _evses_by_location(self, ids: list[int]) -> list[list[Evse]]:
        async with self._session_factory() as db:
            grouped = await service.evses_by_location(db=db, location_ids=ids)
        return [grouped.get(i, []) for i in ids]

    async def _connectors(self, ids: list[int]) -> list[list[Connector]]:
        async with self._session_factory() as db:
            grouped = await service.connectors_by_evse(db=db, evse_ids=ids)
        return [grouped.get(i, []) for i in ids]
