"""Diagnostics as the operator API shows them: a station's state, firmware and OCPP frames."""

from datetime import datetime

import strawberry

from app.db.models import OcppMessageLog
from app.domain.alerts import AlertState
from app.domain.enums import MessageDirection, MessageKind
from app.graphql import fields
from app.graphql.context import Info
from app.graphql.types.alert import Alert
from app.graphql.types.remote_ops import ConfigurationEntry, FirmwareUpdate
from app.graphql.types.session import ChargingSession
from app.graphql.types.station_live import StationLiveState
from app.services import alerts, diagnostics, firmware, station_config
from app.services.diagnostics import MessagePage
from app.services.station_live import StationLive

MAX_ALERTS = 100
LIVE_STATES = (AlertState.OPEN, AlertState.ACKNOWLEDGED)

strawberry.enum(MessageDirection, description="INBOUND: from the station; OUTBOUND: to it.")
strawberry.enum(MessageKind, description="OCPP-J message type.")


@strawberry.type(description="One OCPP frame as it went over the wire.")
class OcppMessage:
    id: int = strawberry.field(description="Increasing; pass as `before` for the next page.")
    at: datetime
    direction: MessageDirection
    kind: MessageKind
    unique_id: str | None
    action: str | None
    error_code: str | None
    payload: str = strawberry.field(description="The raw frame text.")

    @classmethod
    def from_row(cls, row: OcppMessageLog) -> "OcppMessage":
        assert row.id is not None
        return cls(
            id=row.id, at=row.created_at, direction=row.direction, kind=row.kind,
            unique_id=row.unique_id, action=row.action, error_code=row.error_code,
            payload=row.payload,
        )  # fmt: skip


@strawberry.type(description="A page of a station's messages, newest first.")
class OcppMessagePage:
    messages: list[OcppMessage]
    has_next_page: bool

    @classmethod
    def from_service(cls, page: MessagePage) -> "OcppMessagePage":
        return cls(
            messages=[OcppMessage.from_row(row) for row in page.messages],
            has_next_page=page.has_next_page,
        )


@strawberry.type(description="What the station said at boot, and its latest firmware update.")
class StationFirmware:
    vendor: str | None
    model: str | None
    serial_number: str | None
    version: str | None = strawberry.field(description="Firmware version from the last boot.")
    ocpp_version: str | None = strawberry.field(
        description="The subprotocol: ocpp1.6 or ocpp2.0.1."
    )
    last_boot_at: datetime | None
    station_key: strawberry.Private[str]

    @fields.field(description="The newest firmware update job and where it stands; null if none.")
    async def latest_update(self, info: Info) -> FirmwareUpdate | None:
        rows = await firmware.list_firmware_updates(
            session_factory=info.context.session_factory, station_id=self.station_key, first=1
        )
        return FirmwareUpdate.from_row(rows[0]) if rows else None


@strawberry.type(
    description="Everything an operator needs to diagnose one station, in one query: its live "
    "state, firmware, configuration as last read, open alerts, last sessions and OCPP messages."
)
class StationDiagnostics:
    live: StationLiveState
    firmware: StationFirmware
    station_key: strawberry.Private[str]

    @fields.field(description="The configuration as last read (getConfiguration) or set.")
    async def configuration(self, info: Info) -> list[ConfigurationEntry]:
        rows = await station_config.list_configuration(
            session_factory=info.context.session_factory, station_id=self.station_key
        )
        return [ConfigurationEntry.from_row(row) for row in rows]

    @fields.field(description=f"Open and acknowledged alerts, newest first (at most {MAX_ALERTS}).")
    async def open_alerts(self, info: Info) -> list[Alert]:
        page = await alerts.list_alerts(
            session_factory=info.context.session_factory, scope=alerts.NETWORK,
            filter=alerts.AlertFilter(states=LIVE_STATES, station_ids=(self.station_key,)),
            first=MAX_ALERTS,
        )  # fmt: skip
        return [Alert.from_row(row) for row in page.alerts]

    @fields.field(description="The last sessions, newest start first (first: 1 to 100).")
    async def recent_sessions(self, info: Info, first: int = 10) -> list[ChargingSession]:
        rows = await diagnostics.recent_sessions(
            session_factory=info.context.session_factory, station_id=self.station_key, first=first
        )
        return [ChargingSession.from_row(row) for row in rows]

    @fields.field(description="The newest OCPP messages (as stationMessages; first: 1 to 200).")
    async def recent_messages(
        self, info: Info, first: int = 20, action: str | None = None
    ) -> OcppMessagePage:
        page = await diagnostics.station_messages(
            session_factory=info.context.session_factory, scope=alerts.NETWORK,
            station_id=self.station_key, first=first, action=action,
        )  # fmt: skip
        return OcppMessagePage.from_service(page)

    @classmethod
    def from_live(cls, live: StationLive) -> "StationDiagnostics":
        station = live.station
        return cls(
            live=StationLiveState.from_live(live),
            firmware=StationFirmware(
                vendor=station.vendor, model=station.model, serial_number=station.serial_number,
                version=station.firmware_version, last_boot_at=station.last_boot_at,
                ocpp_version=station.ocpp_version.value if station.ocpp_version else None,
                station_key=station.id,
            ),
            station_key=station.id,
        )  # fmt: skip
