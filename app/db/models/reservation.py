"""Reservations of an EVSE by a driver (OCPP ReserveNow / CancelReservation)."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.db.models import base as _base  # noqa: F401  (naming convention first)
from app.db.types import utc_column, utcnow


class Reservation(SQLModel, table=True):
    """`id` is the OCPP reservationId. Status: PENDING, ACTIVE, USED, CANCELLED, EXPIRED,
    REJECTED."""

    __tablename__ = "reservation"

    id: int | None = Field(default=None, primary_key=True)
    driver_id: int = Field(foreign_key="driver.id", index=True)
    evse_id: int = Field(foreign_key="evse.id", index=True)
    id_token: str = Field(max_length=36)
    status: str = Field(default="PENDING", max_length=16, index=True)
    expires_at: datetime = Field(sa_column=utc_column(nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
