"""`membershipPlans` (public) and `myMemberships` (drivers)."""

import strawberry

from app.graphql.context import Info
from app.graphql.permissions import IsDriver, current_driver_id
from app.graphql.types.membership import Membership, MembershipPlan
from app.services import memberships


async def membership_plans(info: Info) -> list[MembershipPlan]:
    plans = await memberships.list_plans(session_factory=info.context.session_factory)
    return [MembershipPlan.from_row(plan) for plan in plans]


async def my_memberships(info: Info) -> list[Membership]:
    rows = await memberships.list_memberships(
        session_factory=info.context.session_factory, driver_id=current_driver_id(info)
    )
    return [Membership.from_row(row) for row in rows]


@strawberry.type
class MembershipQueries:
    membership_plans: list[MembershipPlan] = strawberry.field(
        resolver=membership_plans, description="The membership plans on sale (public)."
    )
    my_memberships: list[Membership] = strawberry.field(
        resolver=my_memberships,
        description="The caller's memberships, oldest first.",
        permission_classes=[IsDriver],
    )
