"""Charging stations, their EVSEs and connectors.

Resolvers below a page answer synchronously from rows the operation already loaded
(`Loaders.prefetch_location_tree`) and return an awaitable only when it did not: an awaited
field costs a task in graphql-core, and a page of 50 locations has hundreds of them.
"""

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import strawberry
from strawberry import relay

from app.db import models
from app.graphql.context import Info
from app.graphql.execution import DIRECT
from app.graphql.types.enums import ConnectorFormat, ConnectorStandard, EvseStatus, PowerType
from app.graphql.types.tariff import Tariff, tariff_view
from app.services.location_rows import ConnectorRow, EvseRow

ResolverT = TypeVar("ResolverT", bound=Callable[..., Any])


def eager_field(
    *, graphql_type: Any, description: str | None = None
) -> Callable[[ResolverT], ResolverT]:
    """A field whose resolver returns its value, or an awaitable when the rows are not loaded
    yet; `graphql_type` is its GraphQL type (the annotation also names the awaitable). It
    takes no arguments and reads only `info.context`: graphql-core calls it directly
    (app/graphql/execution.py), so no permission classes or field extensions here."""
    field: Callable[[ResolverT], ResolverT] = strawberry.field(
        description=description, graphql_type=graphql_type
    )

    def decorator(resolver: ResolverT) -> ResolverT:
        setattr(resolver, DIRECT, True)
        return field(resolver)

    return decorator


@strawberry.type(description="A charger: the device that connects over OCPP.")
class ChargingStation(relay.Node):
    id: relay.NodeID[str]
    identity: str = strawberry.field(
        description="The id the station connects with: /ocpp/{identity}."
    )
    vendor: str | None
    model: str | None
    online: bool = strawberry.field(description="Whether the station has an open OCPP connection.")

    @classmethod
    def from_row(cls, row: models.ChargingStation) -> "ChargingStation":
        return cls(
            id=row.id, identity=row.id, vendor=row.vendor, model=row.model, online=row.online
        )


@strawberry.type(description="A plug or socket on an EVSE (OCPI Connector).")
class Connector:
    standard: ConnectorStandard
    format: ConnectorFormat
    power_type: PowerType
    max_voltage: int = strawberry.field(description="Volts.")
    max_amperage: int = strawberry.field(description="Amperes.")
    max_electric_power_w: int = strawberry.field(description="Watts.")
    # A plain value, not a resolver: resolvers cost several times more per field.
    max_electric_power_kw: float = strawberry.field(description="Kilowatts.")
    tariff_key: strawberry.Private[int | None] = None

    @eager_field(
        description="What charging here costs; null when it is free or not priced.",
        graphql_type=Tariff | None,
    )
    def tariff(self, info: Info) -> Tariff | Awaitable[Tariff | None] | None:
        return tariff_view(info, self.tariff_key) if self.tariff_key is not None else None

    @classmethod
    def from_row(cls, row: ConnectorRow) -> "Connector":
        return cls(
            standard=row.standard,
            format=row.format,
            power_type=row.power_type,
            max_voltage=row.max_voltage,
            max_amperage=row.max_amperage,
            max_electric_power_w=row.max_electric_power,
            max_electric_power_kw=row.max_electric_power / 1000,
            tariff_key=row.tariff_id,
        )


@strawberry.type(description="One charging point: a vehicle charges at one EVSE at a time.")
class Evse(relay.Node):
    id: relay.NodeID[int]
    uid: str = strawberry.field(description="OCPI evse_uid, unique in the network.")
    status: EvseStatus
    last_updated: datetime = strawberry.field(description="When the status last changed.")
    station_id: strawberry.Private[str]

    @eager_field(graphql_type=list[Connector])
    def connectors(self, info: Info) -> list[Connector] | Awaitable[list[Connector]]:
        rows = info.context.loaders.connectors_of.get(self.id)
        if rows is None:
            return self._load_connectors(info)
        return [Connector.from_row(row) for row in rows]

    async def _load_connectors(self, info: Info) -> list[Connector]:
        rows = await info.context.loaders.connectors_by_evse.load(self.id)
        return [Connector.from_row(row) for row in rows]

    @eager_field(graphql_type=ChargingStation)
    def station(self, info: Info) -> ChargingStation | Awaitable[ChargingStation]:
        stations = info.context.loaders.stations
        if self.station_id not in stations:
            return self._load_station(info)
        return self._station(stations[self.station_id])

    async def _load_station(self, info: Info) -> ChargingStation:
        return self._station(await info.context.loaders.station.load(self.station_id))

    def _station(self, row: models.ChargingStation | None) -> ChargingStation:
        if row is None:  # a foreign key guarantees it; a vanished row is an internal error
            raise LookupError(f"station {self.station_id!r} of EVSE {self.id} is missing")
        return ChargingStation.from_row(row)

    @classmethod
    def from_row(cls, row: EvseRow) -> "Evse":
        assert row.id is not None
        return cls(
            id=row.id,
            uid=row.uid,
            status=row.status,
            last_updated=row.status_updated_at,
            station_id=row.station_id,
        )
