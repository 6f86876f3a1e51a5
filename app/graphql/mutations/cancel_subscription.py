"""`cancelSubscription`: a driver ends their membership of a plan, now."""

from typing import Annotated

import strawberry

from app.domain.errors import NotFound
from app.graphql.context import Info
from app.graphql.permissions import IsDriver, current_driver_id
from app.graphql.types import node
from app.graphql.types.membership import MEMBERSHIP_PLAN, Membership
from app.graphql.types.payment import PaymentsUnavailable
from app.services import memberships
from app.services.payments_results import PaymentsUnavailable as Unavailable


@strawberry.input
class CancelSubscriptionInput:
    plan_id: strawberry.ID


@strawberry.type(description="The caller has no live membership of this plan.")
class MembershipNotFound:
    message: str


CancelSubscriptionResult = Annotated[
    Membership | MembershipNotFound | PaymentsUnavailable,
    strawberry.union("CancelSubscriptionResult"),
]


async def cancel_subscription(
    info: Info, input: CancelSubscriptionInput
) -> CancelSubscriptionResult:
    plan_id = node.decode_int(input.plan_id, MEMBERSHIP_PLAN)
    missing = MembershipNotFound(message=f"you have no membership of plan {input.plan_id!r}")
    if plan_id is None:
        return missing
    context = info.context
    if context.payments is None:
        return PaymentsUnavailable(message="payments are not configured on this network")
    try:
        row = await memberships.cancel_subscription(
            session_factory=context.session_factory, gateway=context.payments,
            driver_id=current_driver_id(info), plan_id=plan_id,
        )  # fmt: skip
    except NotFound:
        return missing
    except Unavailable:
        return PaymentsUnavailable(message="payments are unavailable now: try again")
    return Membership.from_row(row)


@strawberry.type
class CancelSubscriptionMutation:
    cancel_subscription: CancelSubscriptionResult = strawberry.mutation(
        resolver=cancel_subscription,
        description="Cancel the caller's membership of a plan now: the next session is "
        "priced on the station's own tariff again.",
        permission_classes=[IsDriver],
    )
