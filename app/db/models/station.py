"""Charging stations, their EVSEs and the connectors on each EVSE."""

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db.models import base as _base  # noqa: F401  (naming convention first)
from app.db.types import enum_column, utc_column, utcnow
from app.domain.enums import (
    ConnectorFormat,
    ConnectorStandard,
    EvseStatus,
    OcppVersion,
    PowerType,
    RegistrationStatus,
)


class ChargingStation(SQLModel, table=True):
    """A charger, keyed by the identity it connects with (`/ocpp/{id}`)."""

    __tablename__ = "charging_station"

    id: str = Field(primary_key=True, max_length=48)
    location_id: int | None = Field(default=None, foreign_key="location.id", index=True)
    password_hash: str | None = Field(default=None, max_length=255)
    # Password rotation (app.services.station_credentials): the password sent to the station
    # whose acceptance is unconfirmed, and the one it replaced, each valid until its expiry.
    next_password_hash: str | None = Field(default=None, max_length=255)
    next_password_expires_at: datetime | None = Field(default=None, sa_column=utc_column())
    previous_password_hash: str | None = Field(default=None, max_length=255)
    previous_password_expires_at: datetime | None = Field(default=None, sa_column=utc_column())
    vendor: str | None = Field(default=None, max_length=50)
    model: str | None = Field(default=None, max_length=50)
    serial_number: str | None = Field(default=None, max_length=50)
    firmware_version: str | None = Field(default=None, max_length=50)
    ocpp_version: OcppVersion | None = Field(
        default=None, sa_column=enum_column(OcppVersion, nullable=True)
    )
    registration_status: RegistrationStatus = Field(
        default=RegistrationStatus.ACCEPTED, sa_column=enum_column(RegistrationStatus)
    )
    online: bool = Field(default=False)
    last_heartbeat_at: datetime | None = Field(default=None, sa_column=utc_column())
    # Any frame from the station (2.0.1 stations may skip heartbeats while sending other
    # traffic); kept by the message log's batched writer, so up to one flush interval behind.
    last_message_at: datetime | None = Field(default=None, sa_column=utc_column())
    last_boot_at: datetime | None = Field(default=None, sa_column=utc_column())
    connected_at: datetime | None = Field(default=None, sa_column=utc_column())
    disconnected_at: datetime | None = Field(default=None, sa_column=utc_column())
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class Evse(SQLModel, table=True):
    """One charging point of a station (OCPP 2.0.1 EVSE; OCPP 1.6 connector)."""

    __tablename__ = "evse"
    __table_args__ = (sa.UniqueConstraint("station_id", "ocpp_evse_id"),)

    id: int | None = Field(default=None, primary_key=True)
    station_id: str = Field(foreign_key="charging_station.id", index=True, max_length=48)
    ocpp_evse_id: int = Field(
        ge=1, description="evseId (2.0.1) or connectorId (1.6) on the station"
    )
    uid: str = Field(max_length=64, unique=True, description="OCPI evse_uid, unique in the network")
    status: EvseStatus = Field(default=EvseStatus.UNKNOWN, sa_column=enum_column(EvseStatus))
    status_updated_at: datetime = Field(
        default_factory=utcnow, sa_column=utc_column(nullable=False)
    )
    error_code: str | None = Field(default=None, max_length=50)


class Connector(SQLModel, table=True):
    """A plug or socket on an EVSE, with its OCPI technical data."""

    __tablename__ = "connector"
    __table_args__ = (sa.UniqueConstraint("evse_id", "ocpp_connector_id"),)

    id: int | None = Field(default=None, primary_key=True)
    evse_id: int = Field(foreign_key="evse.id", index=True)
    ocpp_connector_id: int = Field(default=1, ge=1)
    standard: ConnectorStandard = Field(
        default=ConnectorStandard.IEC_62196_T2, sa_column=enum_column(ConnectorStandard)
    )
    format: ConnectorFormat = Field(
        default=ConnectorFormat.SOCKET, sa_column=enum_column(ConnectorFormat)
    )
    power_type: PowerType = Field(default=PowerType.AC_3_PHASE, sa_column=enum_column(PowerType))
    max_voltage: int = Field(default=230, ge=0, description="V")
    max_amperage: int = Field(default=32, ge=0, description="A")
    max_electric_power: int = Field(default=22_000, ge=0, description="W")
    tariff_id: int | None = Field(default=None, foreign_key="tariff.id", index=True)
