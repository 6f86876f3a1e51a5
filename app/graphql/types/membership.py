"""Memberships in the API: the plans on sale and a driver's subscriptions."""

from datetime import datetime

import strawberry

from app.db.models.membership import Membership as MembershipRow
from app.db.models.membership import MembershipPlan as PlanRow
from app.graphql.types import node
from app.graphql.types.tariff import TARIFF

MEMBERSHIP_PLAN = "MembershipPlan"


@strawberry.type(description="A plan: a monthly fee, and sessions priced on its tariff.")
class MembershipPlan:
    id: strawberry.ID
    name: str
    monthly_fee_minor: int
    currency: str
    tariff_id: strawberry.ID = strawberry.field(
        description="The Tariff members' sessions are priced on (the operator's stations)."
    )

    @classmethod
    def from_row(cls, row: PlanRow) -> "MembershipPlan":
        assert row.id is not None
        return cls(
            id=strawberry.ID(str(node.global_id(MEMBERSHIP_PLAN, row.id))),
            name=row.name,
            monthly_fee_minor=row.monthly_fee_minor,
            currency=row.currency,
            tariff_id=strawberry.ID(str(node.global_id(TARIFF, row.tariff_id))),
        )


@strawberry.type(description="A driver's subscription to a plan, as Stripe last reported it.")
class Membership:
    plan_id: strawberry.ID
    status: str = strawberry.field(
        description="Stripe's: active and trialing price sessions on the plan's tariff; "
        "past_due, incomplete, canceled, ... do not."
    )
    current_period_end: datetime | None

    @classmethod
    def from_row(cls, row: MembershipRow) -> "Membership":
        return cls(
            plan_id=strawberry.ID(str(node.global_id(MEMBERSHIP_PLAN, row.plan_id))),
            status=row.status,
            current_period_end=row.current_period_end,
        )


@strawberry.type(description="No plan on sale has this id.")
class MembershipPlanNotFound:
    message: str
