"""Charging sessions (OCPP transactions) and the meter samples recorded during them."""

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db.models import base as _base  # noqa: F401  (naming convention first)
from app.db.types import enum_column, utc_column, utcnow
from app.domain.enums import SessionStatus


class ChargingSession(SQLModel, table=True):
    """One transaction on one EVSE. Energy in Wh from the meter register (stop - start)."""

    __tablename__ = "charging_session"
    __table_args__ = (sa.UniqueConstraint("station_id", "transaction_id"),)

    id: int | None = Field(default=None, primary_key=True)
    station_id: str = Field(foreign_key="charging_station.id", index=True, max_length=48)
    evse_id: int = Field(foreign_key="evse.id", index=True)
    ocpp_connector_id: int = Field(default=1)
    transaction_id: str = Field(
        max_length=36, description="2.0.1: the charger's id; 1.6: the integer chargenet assigned"
    )
    id_token: str | None = Field(default=None, max_length=36)
    status: SessionStatus = Field(
        default=SessionStatus.ACTIVE, sa_column=enum_column(SessionStatus, index=True)
    )
    started_at: datetime = Field(sa_column=utc_column(nullable=False))
    ended_at: datetime | None = Field(default=None, sa_column=utc_column())
    # Meter registers are cumulative over the meter's life: past 2**31 Wh (2.1 GWh) on a DC
    # charger, so 64-bit.
    meter_start_wh: int = Field(default=0, sa_type=sa.BigInteger)
    meter_stop_wh: int | None = Field(default=None, sa_type=sa.BigInteger)
    energy_wh: int = Field(default=0, ge=0, sa_type=sa.BigInteger)
    power_w: int | None = Field(default=None)
    soc_percent: int | None = Field(default=None)
    stop_reason: str | None = Field(default=None, max_length=32)
    last_meter_at: datetime | None = Field(default=None, sa_column=utc_column())
    last_seq_no: int | None = Field(
        default=None, description="2.0.1: seqNo of the last TransactionEvent applied (dedupe)"
    )
    driver_id: int | None = Field(default=None, foreign_key="driver.id", index=True)
    remote_start_id: int | None = Field(
        default=None, index=True, description="links a remote start command to this transaction"
    )
    tariff_id: int | None = Field(default=None, foreign_key="tariff.id")
    currency: str | None = Field(default=None, max_length=3)
    cost_incl_vat_minor: int | None = Field(
        default=None, description="cost so far (live) or final, minor units incl. VAT"
    )
    departure_at: datetime | None = Field(
        default=None, sa_column=utc_column(), description="when the driver says they leave"
    )
    requested_energy_wh: int | None = Field(default=None, ge=0)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class MeterSample(SQLModel, table=True):
    """One sampled value (base units: Wh, W, A, V, Percent)."""

    __tablename__ = "meter_sample"
    __table_args__ = (sa.Index("ix_meter_sample_session_time", "session_id", "sampled_at"),)

    id: int | None = Field(default=None, primary_key=True)
    session_id: int | None = Field(default=None, foreign_key="charging_session.id")
    evse_id: int | None = Field(default=None, foreign_key="evse.id", index=True)
    station_id: str = Field(max_length=48, index=True)
    sampled_at: datetime = Field(sa_column=utc_column(nullable=False))
    measurand: str = Field(max_length=64)
    phase: str | None = Field(default=None, max_length=8)
    location: str | None = Field(default=None, max_length=16)
    context: str | None = Field(default=None, max_length=32)
    value: float
    unit: str = Field(max_length=16)
