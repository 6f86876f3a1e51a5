"""Memberships: plans operators sell (monthly fee, tariff override) and drivers' subscriptions."""

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.db.models import base as _base  # noqa: F401  (naming convention first)
from app.db.types import utc_column, utcnow


class MembershipPlan(SQLModel, table=True):
    """A plan: a Stripe Product with a monthly recurring Plan (price); while a driver's
    subscription to it is active, their sessions are priced on `tariff_id`."""

    __tablename__ = "membership_plan"

    id: int | None = Field(default=None, primary_key=True)
    operator_id: int | None = Field(default=None, foreign_key="operator.id", index=True)
    name: str = Field(max_length=100)
    monthly_fee_minor: int = Field(ge=0)
    currency: str = Field(max_length=3)
    tariff_id: int = Field(foreign_key="tariff.id")
    stripe_product_id: str = Field(max_length=64, unique=True)
    stripe_price_id: str = Field(max_length=64, unique=True, description="Stripe plan_/price_")
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class Membership(SQLModel, table=True):
    """A driver's subscription to a plan, mirrored from Stripe's subscription events.

    `status` is Stripe's (active, past_due, canceled, incomplete, ...): only `active` and
    `trialing` price sessions on the plan's tariff."""

    __tablename__ = "membership"

    id: int | None = Field(default=None, primary_key=True)
    driver_id: int = Field(foreign_key="driver.id", index=True)
    plan_id: int = Field(foreign_key="membership_plan.id", index=True)
    subscription_id: str = Field(max_length=64, unique=True)
    status: str = Field(max_length=24, index=True)
    current_period_end: datetime | None = Field(default=None, sa_column=utc_column())
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
