"""`ChargingSession`: one charging session as a driver sees it, a full snapshot."""

from datetime import UTC, datetime

import strawberry
from strawberry import relay

from app.db import models
from app.domain.enums import SessionStatus
from app.graphql import fields
from app.graphql.context import Info
from app.graphql.types import node
from app.graphql.types.location import Location
from app.graphql.types.money import Money
from app.graphql.types.receipt import Receipt, load_receipt
from app.graphql.types.station import Evse

CHARGING_SESSION = "ChargingSession"

strawberry.enum(SessionStatus, description="OCPI 2.2.1 session status.")


def decode_session_id(value: str) -> int | None:
    """The key of a ChargingSession global id; None for anything else."""
    return node.decode_int(value, CHARGING_SESSION)


@strawberry.type(
    description=(
        "A charging session: a complete snapshot (energy, power, SoC, duration, cost so far). "
        "sessionUpdated streams these; me.activeSessions gives the same on reconnect."
    )
)
class ChargingSession(relay.Node):
    id: relay.NodeID[int]
    status: SessionStatus
    energy_wh: int = strawberry.field(description="Energy delivered so far, Wh (meter register).")
    power_w: int | None = strawberry.field(description="Power now, W; null before a reading.")
    soc_percent: int | None = strawberry.field(
        description="Vehicle state of charge, %, when the charger reports it (mostly DC)."
    )
    started_at: datetime
    ended_at: datetime | None
    departure_time: datetime | None = strawberry.field(
        description="When the driver said they leave (startSession), if they did."
    )
    requested_energy_wh: int | None = strawberry.field(
        description="The energy the driver asked for at start (startSession), if any."
    )
    stop_reason: str | None = strawberry.field(description="Why it ended, as the charger said.")
    station_identity: str
    evse_key: strawberry.Private[int]
    cost_minor: strawberry.Private[int | None]
    currency: strawberry.Private[str | None]

    @fields.field(description="Energy delivered so far, kWh.")
    def energy_kwh(self) -> float:
        return self.energy_wh / 1000

    @fields.field(description="Power now, kW; null before a reading.")
    def power_kw(self) -> float | None:
        return self.power_w / 1000 if self.power_w is not None else None

    @fields.field(description="Seconds from start to end (or to now while active).")
    def duration_seconds(self) -> int:
        end = self.ended_at or datetime.now(UTC)
        return max(0, int((end - self.started_at).total_seconds()))

    @fields.field(
        description="Cost so far incl. VAT (final once COMPLETED); null until it is priced."
    )
    def cost_so_far(self) -> Money | None:
        if self.cost_minor is None or self.currency is None:
            return None
        return Money(amount_minor=self.cost_minor, currency=self.currency)

    @fields.field(description="Where the session is.")
    async def evse(self, info: Info) -> Evse | None:
        row = await info.context.loaders.evse.load(self.evse_key)
        return Evse.from_row(row) if row is not None else None

    @fields.field(description="Where the session is (its station's location).")
    async def location(self, info: Info) -> Location | None:
        station = await info.context.loaders.station.load(self.station_identity)
        if station is None or station.location_id is None:
            return None
        row = await info.context.loaders.location.load(station.location_id)
        return Location.from_row(row) if row is not None else None

    @fields.field(description="The receipt (CDR) once the session is finished; null while active.")
    async def receipt(self, info: Info) -> Receipt | None:
        return await load_receipt(info, self.id)

    @classmethod
    def from_row(cls, row: models.ChargingSession) -> "ChargingSession":
        assert row.id is not None
        return cls(
            id=row.id,
            status=row.status,
            energy_wh=row.energy_wh,
            power_w=row.power_w,
            soc_percent=row.soc_percent,
            started_at=row.started_at,
            ended_at=row.ended_at,
            departure_time=row.departure_at,
            requested_energy_wh=row.requested_energy_wh,
            stop_reason=row.stop_reason,
            station_identity=row.station_id,
            evse_key=row.evse_id,
            cost_minor=row.cost_incl_vat_minor,
            currency=row.currency,
        )
