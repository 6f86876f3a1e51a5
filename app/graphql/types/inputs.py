"""Search inputs for locations."""

import strawberry

from app.graphql.types.enums import ConnectorStandard


@strawberry.input(description="A WGS84 point.")
class GeoPointInput:
    latitude: float = strawberry.field(description="-90 to 90 degrees.")
    longitude: float = strawberry.field(description="-180 to 180 degrees.")


@strawberry.input(
    description="A latitude/longitude box. minLongitude > maxLongitude crosses the antimeridian."
)
class BoundingBoxInput:
    min_latitude: float
    min_longitude: float
    max_latitude: float
    max_longitude: float


@strawberry.input(
    description=(
        "Which locations to return. Connector, power and availability conditions must all hold "
        "on one EVSE of the location."
    )
)
class LocationFilter:
    near: GeoPointInput | None = strawberry.field(
        default=None, description="Order by distance from this point and keep those within radius."
    )
    radius_meters: float | None = strawberry.field(
        default=None, description="With `near`: more than 0, at most 500000; 50000 when omitted."
    )
    bbox: BoundingBoxInput | None = None
    connector_standards: list[ConnectorStandard] | None = strawberry.field(
        default=None, description="Keep locations with an EVSE having one of these connectors."
    )
    min_power_kw: float | None = strawberry.field(
        default=None, description="Keep locations with a connector of at least this power."
    )
    available_only: bool = strawberry.field(
        default=False, description="Keep locations with an AVAILABLE EVSE."
    )
