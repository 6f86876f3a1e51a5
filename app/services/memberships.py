"""Memberships: operators sell plans (a monthly fee as a Stripe Product + monthly Plan, and a
tariff override); drivers subscribe with a saved card and cancel. Stripe owns the billing:
`customer.subscription.*` and `invoice.*` webhook events keep each membership's status, and
only an `active` (or `trialing`) membership prices sessions on the plan's tariff
(`memberships_pricing`).
"""

import hashlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.engine import SessionFactory
from app.db.models import Tariff
from app.db.models.membership import Membership, MembershipPlan
from app.domain.errors import Conflict, InvalidInput, NotFound
from app.services import audit
from app.services.alerts import OperatorScope
from app.services.memberships_pricing import ACTIVE
from app.services.payments import ensure_customer, own_method
from app.services.payments_results import PaymentDeclined, SubscriptionState
from app.services.ports import PaymentGateway

MAX_FEE_MINOR = 100_000


class AlreadySubscribed(Conflict):
    """The driver already has a live membership of this plan."""


async def create_plan(
    *,
    session_factory: SessionFactory,
    gateway: PaymentGateway,
    scope: OperatorScope,
    actor: str,
    name: str,
    monthly_fee_minor: int,
    tariff_id: int,
) -> MembershipPlan:
    """A plan of the caller's organisation priced on one of its tariffs; audited. A retry
    with the same values returns the plan already on sale (and Stripe's idempotency key is
    derived from them, should the first attempt's answer have been lost)."""
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise InvalidInput(f"name has {len(name)} characters: expected 1 to 100")
    if not 0 < monthly_fee_minor <= MAX_FEE_MINOR:
        raise InvalidInput(f"monthlyFeeMinor {monthly_fee_minor}: expected 1 to {MAX_FEE_MINOR}")
    async with session_factory() as db:
        tariff = await db.get(Tariff, tariff_id)
        statement = select(MembershipPlan).where(
            MembershipPlan.operator_id == scope.operator_id,
            MembershipPlan.name == name,
            col(MembershipPlan.active).is_(True),
        )
        same_name = (await db.exec(statement)).first()
    if same_name is not None:  # a retried create (or a clash): never a second product
        if (same_name.monthly_fee_minor, same_name.tariff_id) == (monthly_fee_minor, tariff_id):
            return same_name
        raise InvalidInput(f"a plan named {name!r} is already on sale with other terms")
    if tariff is None or (
        scope.operator_id is not None and tariff.operator_id != scope.operator_id
    ):
        raise NotFound("Tariff", tariff_id)
    digest = hashlib.sha256(f"{scope.operator_id}|{name}|{monthly_fee_minor}|{tariff_id}".encode())
    price = await gateway.create_plan(
        name=name, monthly_fee_minor=monthly_fee_minor, currency=tariff.currency,
        idempotency_key=f"plan-{digest.hexdigest()[:32]}",
    )  # fmt: skip
    async with session_factory() as db:
        existing = (
            await db.exec(
                select(MembershipPlan).where(MembershipPlan.stripe_product_id == price.product_id)
            )
        ).first()
        if existing is not None:
            return existing
        plan = MembershipPlan(
            operator_id=scope.operator_id, name=name, monthly_fee_minor=monthly_fee_minor,
            currency=tariff.currency, tariff_id=tariff_id,
            stripe_product_id=price.product_id, stripe_price_id=price.price_id,
        )  # fmt: skip
        db.add(plan)
        await db.flush()
        await audit.record(
            db=db, actor=actor, operator_id=scope.operator_id, action="membership_plan.create",
            target=f"membership-plan:{plan.id}",
            detail={"name": name, "monthly_fee_minor": monthly_fee_minor, "tariff_id": tariff_id},
        )  # fmt: skip
        await db.commit()
        await db.refresh(plan)
        return plan


async def list_plans(*, session_factory: SessionFactory) -> list[MembershipPlan]:
    async with session_factory() as db:
        statement = select(MembershipPlan).where(col(MembershipPlan.active).is_(True))
        return list((await db.exec(statement.order_by(col(MembershipPlan.id)))).all())


async def list_memberships(*, session_factory: SessionFactory, driver_id: int) -> list[Membership]:
    async with session_factory() as db:
        statement = select(Membership).where(Membership.driver_id == driver_id)
        return list((await db.exec(statement.order_by(col(Membership.id)))).all())


def _period_end(state: SubscriptionState) -> datetime | None:
    end = state.current_period_end
    return datetime.fromtimestamp(end, UTC) if end is not None else None


async def subscribe(
    *,
    session_factory: SessionFactory,
    gateway: PaymentGateway,
    driver_id: int,
    plan_id: int,
    payment_method_id: str,
) -> Membership | PaymentDeclined:
    """Subscribe the driver to a plan, paid with one of their saved methods (NotFound for a
    plan or a method that is not theirs; AlreadySubscribed). A declined first invoice
    answers PaymentDeclined and leaves an `incomplete` membership that prices nothing."""
    async with session_factory() as db:
        plan = await db.get(MembershipPlan, plan_id)
        if plan is None or not plan.active:
            raise NotFound("MembershipPlan", plan_id)
        memberships = (
            await db.exec(
                select(Membership).where(
                    Membership.driver_id == driver_id, Membership.plan_id == plan_id
                )
            )
        ).all()
    if any(m.status in ACTIVE for m in memberships):
        raise AlreadySubscribed(f"you already have a membership of plan {plan.name!r}")
    customer = await ensure_customer(
        session_factory=session_factory, gateway=gateway, driver_id=driver_id
    )
    await own_method(session_factory, gateway, driver_id, payment_method_id)
    result = await gateway.subscribe(
        customer_id=customer.customer_id, price_id=plan.stripe_price_id,
        payment_method_id=payment_method_id,
        # Once per attempt: a retry after a timeout gets the same subscription.
        idempotency_key=f"driver-{driver_id}-plan-{plan_id}-subscription-{len(memberships)}",
    )  # fmt: skip
    if isinstance(result, PaymentDeclined):
        return result
    async with session_factory() as db:
        membership = Membership(
            driver_id=driver_id, plan_id=plan_id, subscription_id=result.subscription_id,
            status=result.status[:24], current_period_end=_period_end(result),
        )  # fmt: skip
        db.add(membership)
        try:
            await db.commit()
        except IntegrityError:  # a webhook or a racing retry recorded it first
            await db.rollback()
            statement = select(Membership).where(
                Membership.subscription_id == result.subscription_id
            )
            return (await db.exec(statement)).one()
        await db.refresh(membership)
    if result.status not in ACTIVE:
        return PaymentDeclined(message=f"the first payment failed: membership {result.status}")
    return membership


async def cancel_subscription(
    *, session_factory: SessionFactory, gateway: PaymentGateway, driver_id: int, plan_id: int
) -> Membership:
    """End the driver's live membership of a plan now (NotFound when there is none)."""
    async with session_factory() as db:
        statement = (
            select(Membership)
            .where(Membership.driver_id == driver_id, Membership.plan_id == plan_id)
            .where(col(Membership.status).not_in(["canceled", "incomplete_expired"]))
            .order_by(col(Membership.id).desc())
        )
        membership = (await db.exec(statement)).first()
    if membership is None:
        raise NotFound("Membership of plan", plan_id)
    state = await gateway.cancel_subscription(subscription_id=membership.subscription_id)
    async with session_factory() as db:
        row = await db.get(Membership, membership.id)
        assert row is not None
        row.status, row.updated_at = state.status[:24], datetime.now(UTC)
        await db.commit()
        await db.refresh(row)
        return row


# Webhook handlers (registered in `payments_webhooks.HANDLERS`): they run in the transaction
# that records the event, so each event changes a membership once.


async def _membership(db: AsyncSession, subscription_id: object) -> Membership | None:
    statement = select(Membership).where(Membership.subscription_id == str(subscription_id))
    return (await db.exec(statement)).first()


async def subscription_changed(db: AsyncSession, subscription: dict[str, Any]) -> None:
    """customer.subscription.created / updated / deleted: Stripe's status is the truth."""
    membership = await _membership(db, subscription.get("id"))
    if membership is None:
        return
    membership.status = str(subscription.get("status") or membership.status)[:24]
    if (end := subscription.get("current_period_end")) is not None:
        membership.current_period_end = datetime.fromtimestamp(int(end), UTC)
    membership.updated_at = datetime.now(UTC)


async def invoice_paid(db: AsyncSession, invoice: dict[str, Any]) -> None:
    """invoice.paid (and the older invoice.payment_succeeded): the period is paid."""
    membership = await _membership(db, invoice.get("subscription"))
    if membership is None or membership.status == "canceled":
        return
    membership.status, membership.updated_at = "active", datetime.now(UTC)


async def invoice_failed(db: AsyncSession, invoice: dict[str, Any]) -> None:
    """invoice.payment_failed: the member prices stop until a payment succeeds."""
    membership = await _membership(db, invoice.get("subscription"))
    if membership is None or membership.status == "canceled":
        return
    if membership.status in ACTIVE:
        membership.status = "past_due"
    membership.updated_at = datetime.now(UTC)
