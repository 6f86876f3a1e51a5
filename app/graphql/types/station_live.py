"""A station's live state as operators see it: in stationDiagnostics and on stationUpdated."""

from datetime import datetime

import strawberry
from strawberry import relay

from app.graphql.types import node
from app.graphql.types.enums import EvseStatus
from app.graphql.types.session import ChargingSession
from app.graphql.types.station import ChargingStation, Evse
from app.services.station_live import EvseLive, StationLive


@strawberry.type(description="One EVSE now: its status since when, and the session charging.")
class EvseLiveState:
    evse: Evse
    status: EvseStatus
    status_since: datetime = strawberry.field(description="When the status last changed.")
    error_code: str | None = strawberry.field(description="The charger's error code, if any.")
    power_w: int = strawberry.field(
        description="What the vehicle draws now, W, from the latest meter sample (0 when idle)."
    )
    meter_at: datetime | None = strawberry.field(
        description="When the active session's latest meter sample was taken (how fresh powerW is)."
    )
    active_session: ChargingSession | None = strawberry.field(
        description="The session charging here: id, start, energy so far (Wh), power (W)."
    )

    @classmethod
    def from_live(cls, live: EvseLive) -> "EvseLiveState":
        session = live.session
        return cls(
            evse=Evse.from_row(live.evse),
            status=live.evse.status,
            status_since=live.evse.status_updated_at,
            error_code=live.evse.error_code,
            power_w=(session.power_w or 0) if session is not None else 0,
            meter_at=session.last_meter_at if session is not None else None,
            active_session=ChargingSession.from_row(session) if session is not None else None,
        )


@strawberry.type(
    description="A station now: connected or not and since when, when it last spoke, its "
    "EVSEs' statuses and the power it delivers. A complete snapshot, never a delta."
)
class StationLiveState:
    station: ChargingStation
    identity: str = strawberry.field(description="The id the station connects with.")
    location_id: relay.GlobalID | None
    online: bool
    connectivity_since: datetime | None = strawberry.field(
        description="Start of the current online or offline spell; null if it never connected."
    )
    connectivity_reason: str | None = strawberry.field(
        description="Why it changed: CONNECTED, BOOT, DISCONNECTED, HEARTBEAT_TIMEOUT…"
    )
    last_message_at: datetime | None = strawberry.field(
        description="When the station last sent any message (heartbeat or other)."
    )
    power_w: int = strawberry.field(description="The sum of its EVSEs' power now, W.")
    evses: list[EvseLiveState]

    @classmethod
    def from_live(cls, live: StationLive) -> "StationLiveState":
        station = live.station
        location = station.location_id
        return cls(
            station=ChargingStation.from_row(station),
            identity=station.id,
            location_id=node.global_id(node.LOCATION, location) if location else None,
            online=station.online,
            connectivity_since=live.connectivity_since,
            connectivity_reason=live.connectivity_reason,
            last_message_at=live.last_message_at,
            power_w=live.power_w,
            evses=[EvseLiveState.from_live(evse) for evse in live.evses],
        )
