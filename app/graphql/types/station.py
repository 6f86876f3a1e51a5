"""Charging stations, their EVSEs and connectors."""

from datetime import datetime

import strawberry
from strawberry import relay

from app.db import models
from app.graphql import fields
from app.graphql.context import Info
from app.graphql.types.enums import ConnectorFormat, ConnectorStandard, EvseStatus, PowerType
from app.graphql.types.tariff import Tariff, load_tariff


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
    tariff_key: strawberry.Private[int | None] = None

    @fields.field(description="Kilowatts.")
    def max_electric_power_kw(self) -> float:
        return self.max_electric_power_w / 1000

    @fields.field(description="What charging here costs; null when it is free or not priced.")
    async def tariff(self, info: Info) -> Tariff | None:
        return await load_tariff(info, self.tariff_key)

    @classmethod
    def from_row(cls, row: models.Connector) -> "Connector":
        return cls(
            standard=row.standard,
            format=row.format,
            power_type=row.power_type,
            max_voltage=row.max_voltage,
            max_amperage=row.max_amperage,
            max_electric_power_w=row.max_electric_power,
            tariff_key=row.tariff_id,
        )


@strawberry.type(description="One charging point: a vehicle charges at one EVSE at a time.")
class Evse(relay.Node):
    id: relay.NodeID[int]
    uid: str = strawberry.field(description="OCPI evse_uid, unique in the network.")
    status: EvseStatus
    last_updated: datetime = strawberry.field(description="When the status last changed.")
    station_id: strawberry.Private[str]

    @strawberry.field
    async def connectors(self, info: Info) -> list[Connector]:
        rows = await info.context.loaders.connectors_by_evse.load(self.id)
        return [Connector.from_row(row) for row in rows]

    @strawberry.field
    async def station(self, info: Info) -> ChargingStation:
        row = await info.context.loaders.station.load(self.station_id)
        if row is None:  # a foreign key guarantees it; a vanished row is an internal error
            raise LookupError(f"station {self.station_id!r} of EVSE {self.id} is missing")
        return ChargingStation.from_row(row)

    @classmethod
    def from_row(cls, row: models.Evse) -> "Evse":
        assert row.id is not None
        return cls(
            id=row.id,
            uid=row.uid,
            status=row.status,
            last_updated=row.status_updated_at,
            station_id=row.station_id,
        )
