"""Payments: Stripe customers, a payment per session (hold, then capture or release), ledger."""

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db.models import base as _base  # noqa: F401  (naming convention first)
from app.db.types import enum_column, utc_column, utcnow


class PaymentStatus(StrEnum):
    """HOLD_PENDING: the hold is being placed. AUTHORISED: held. CAPTURE_PENDING: the session
    ended, the amount to capture is fixed and the capture is owed (the reconciler settles it).
    DECLINED, CAPTURED, RELEASED (hold cancelled, nothing taken) and FAILED are final."""

    HOLD_PENDING = "HOLD_PENDING"
    AUTHORISED = "AUTHORISED"
    DECLINED = "DECLINED"
    CAPTURE_PENDING = "CAPTURE_PENDING"
    CAPTURED = "CAPTURED"
    RELEASED = "RELEASED"
    FAILED = "FAILED"


class LedgerKind(StrEnum):
    AUTHORISATION = "AUTHORISATION"
    CAPTURE = "CAPTURE"
    RELEASE = "RELEASE"
    REFUND = "REFUND"


class StripeCustomer(SQLModel, table=True):
    """The Stripe Customer of a driver, created on first need; the default method is ours."""

    __tablename__ = "stripe_customer"

    driver_id: int = Field(foreign_key="driver.id", primary_key=True)
    customer_id: str = Field(max_length=64, unique=True)
    default_payment_method_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class Payment(SQLModel, table=True):
    """The money of one remote-started session: a manual-capture hold, then its settlement.

    Idempotency keys sent to Stripe are `payment-<id>-<step>`, so a retry of any step after a
    timeout (by the SDK or the reconciler) can never move money twice.
    """

    __tablename__ = "payment"

    id: int | None = Field(default=None, primary_key=True)
    driver_id: int = Field(foreign_key="driver.id", index=True)
    command_id: str | None = Field(default=None, max_length=36, unique=True)
    session_id: int | None = Field(
        default=None, foreign_key="charging_session.id", unique=True, index=True
    )
    status: PaymentStatus = Field(sa_column=enum_column(PaymentStatus, index=True))
    currency: str = Field(max_length=3)
    customer_id: str = Field(max_length=64)
    payment_method_id: str = Field(max_length=64)
    intent_id: str | None = Field(default=None, max_length=64, unique=True)
    remainder_intent_id: str | None = Field(default=None, max_length=64)
    hold_requested_minor: int = Field(default=0, ge=0, description="the hold asked for")
    authorised_minor: int = Field(default=0, ge=0)
    amount_to_capture_minor: int | None = Field(default=None, ge=0)
    captured_minor: int = Field(default=0, ge=0)
    decline_message: str | None = Field(default=None, max_length=255)
    attempts: int = Field(default=0, ge=0, description="settlement attempts by the reconciler")
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class PaymentLedgerEntry(SQLModel, table=True):
    """One movement of money. `step_key` is unique: a step recorded once, however often tried."""

    __tablename__ = "payment_ledger"

    id: int | None = Field(default=None, primary_key=True)
    payment_id: int = Field(foreign_key="payment.id", index=True)
    kind: LedgerKind = Field(sa_column=enum_column(LedgerKind))
    step_key: str = Field(max_length=96, unique=True)
    amount_minor: int = Field(ge=0)
    currency: str = Field(max_length=3)
    intent_id: str | None = Field(default=None, max_length=64)
    stripe_object_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class StripeEvent(SQLModel, table=True):
    """A webhook event applied: its id is the primary key, so it is applied once."""

    __tablename__ = "stripe_event"
    __table_args__ = (sa.Index("ix_stripe_event_type", "type"),)

    id: str = Field(max_length=64, primary_key=True)
    type: str = Field(max_length=64)
    received_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
