"""`node(id)`: any object by its Relay global id."""

import strawberry
from strawberry import relay

from app.graphql import fields
from app.graphql.context import Info
from app.graphql.types import node
from app.graphql.types.location import Location
from app.graphql.types.station import ChargingStation, Evse


@strawberry.type
class NodeQueries:
    @fields.field(description="An object by its global id; null when it does not exist.")
    async def node(self, info: Info, id: strawberry.ID) -> relay.Node | None:
        decoded = node.decode(id)
        if decoded is None:
            return None
        type_name, key = decoded
        loaders = info.context.loaders
        if type_name == node.CHARGING_STATION:
            station = await loaders.station.load(key)
            return ChargingStation.from_row(station) if station is not None else None
        number = node.decode_int(id, type_name)
        if number is None:
            return None
        if type_name == node.LOCATION:
            location = await loaders.location.load(number)
            return Location.from_row(location) if location is not None else None
        if type_name == node.EVSE:
            evse = await loaders.evse.load(number)
            return Evse.from_row(evse) if evse is not None else None
        return None
