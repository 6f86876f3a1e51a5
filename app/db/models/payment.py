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
    driver_id: int | None = Field(
        default=None, foreign_key="driver.id", index=True, description="None: a guest (ad hoc)"
    )
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


class HoldSetting(SQLModel, table=True):
    """The hold an operator set for a location or a tariff (exactly one of the two).

    A tariff's setting wins over its location's; neither: `PAYMENT_HOLD_AMOUNT_MINOR`.
    """

    __tablename__ = "payment_hold_setting"

    id: int | None = Field(default=None, primary_key=True)
    location_id: int | None = Field(default=None, foreign_key="location.id", unique=True)
    tariff_id: int | None = Field(default=None, foreign_key="tariff.id", unique=True)
    amount_minor: int = Field(gt=0)
    updated_by: str = Field(default="", max_length=100)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class RefundStatus(StrEnum):
    """PENDING: reserved against what was captured, sent (or about to be) to Stripe."""

    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class PaymentRefund(SQLModel, table=True):
    """An operator's refund of a payment. (payment_id, request_key) is unique: a retried
    request finds its first refund. PENDING and SUCCEEDED rows together never exceed what
    was captured (checked when the row is written, before Stripe is asked)."""

    __tablename__ = "payment_refund"
    __table_args__ = (sa.UniqueConstraint("payment_id", "request_key"),)

    id: int | None = Field(default=None, primary_key=True)
    payment_id: int = Field(foreign_key="payment.id", index=True)
    request_key: str = Field(max_length=64)
    amount_minor: int = Field(gt=0)
    currency: str = Field(max_length=3)
    reason: str = Field(max_length=255)
    status: RefundStatus = Field(sa_column=enum_column(RefundStatus))
    actor: str = Field(max_length=100)
    stripe_refund_ids: str = Field(default="", max_length=255, description="comma-separated")
    failure: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class AdHocStatus(StrEnum):
    """CREATED: the intent awaits the guest's card. AUTHORISED: held, the start is being
    sent. STARTED: the charger opened the session. EXPIRED: never authorised, or authorised
    but the charger never started (the hold is cancelled). COMPLETED: the session ended."""

    CREATED = "CREATED"
    AUTHORISED = "AUTHORISED"
    STARTED = "STARTED"
    COMPLETED = "COMPLETED"
    EXPIRED = "EXPIRED"


class AdHocPayment(SQLModel, table=True):
    """A guest's payment at a charger (AFIR ad-hoc): no account, a PaymentIntent with manual
    capture, a one-time id token bound to it, and a receipt token (only its SHA-256 stored)."""

    __tablename__ = "ad_hoc_payment"

    id: int | None = Field(default=None, primary_key=True)
    evse_id: int = Field(foreign_key="evse.id", index=True)
    payment_id: int = Field(foreign_key="payment.id", unique=True)
    intent_id: str = Field(max_length=64, unique=True)
    receipt_token_hash: str = Field(max_length=64, unique=True)
    id_token_uid: str = Field(max_length=36, unique=True)
    email: str | None = Field(default=None, max_length=255)
    status: AdHocStatus = Field(sa_column=enum_column(AdHocStatus, index=True))
    command_id: str | None = Field(default=None, foreign_key="remote_command.id", max_length=36)
    expires_at: datetime = Field(sa_column=utc_column(nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
