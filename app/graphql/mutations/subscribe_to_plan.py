"""`subscribeToPlan`: a driver buys a membership with one of their saved cards."""

from typing import Annotated

import strawberry

from app.domain.errors import NotFound
from app.graphql.context import Info
from app.graphql.permissions import IsDriver, current_driver_id
from app.graphql.types import node
from app.graphql.types.membership import MEMBERSHIP_PLAN, Membership, MembershipPlanNotFound
from app.graphql.types.payment import PaymentDeclined, PaymentMethodNotFound, PaymentsUnavailable
from app.services import memberships
from app.services.payments_results import PaymentDeclined as Declined
from app.services.payments_results import PaymentsUnavailable as Unavailable


@strawberry.input
class SubscribeToPlanInput:
    plan_id: strawberry.ID
    payment_method_id: strawberry.ID = strawberry.field(description="One of me.paymentMethods.")


@strawberry.type(description="The caller already has a live membership of this plan.")
class AlreadySubscribed:
    message: str


SubscribeToPlanResult = Annotated[
    Membership
    | MembershipPlanNotFound
    | PaymentMethodNotFound
    | AlreadySubscribed
    | PaymentDeclined
    | PaymentsUnavailable,
    strawberry.union("SubscribeToPlanResult"),
]


async def subscribe_to_plan(info: Info, input: SubscribeToPlanInput) -> SubscribeToPlanResult:
    plan_id = node.decode_int(input.plan_id, MEMBERSHIP_PLAN)
    missing = MembershipPlanNotFound(message=f"no plan on sale has id {input.plan_id!r}")
    if plan_id is None:
        return missing
    context = info.context
    if context.payments is None:
        return PaymentsUnavailable(message="payments are not configured on this network")
    try:
        result = await memberships.subscribe(
            session_factory=context.session_factory, gateway=context.payments,
            driver_id=current_driver_id(info), plan_id=plan_id,
            payment_method_id=str(input.payment_method_id),
        )  # fmt: skip
    except NotFound as exc:
        if exc.kind == "MembershipPlan":
            return missing
        return PaymentMethodNotFound(
            message=f"you have no payment method {str(input.payment_method_id)!r}"
        )
    except memberships.AlreadySubscribed as exc:
        return AlreadySubscribed(message=str(exc))
    except Unavailable:
        return PaymentsUnavailable(message="payments are unavailable now: try again")
    if isinstance(result, Declined):
        return PaymentDeclined(message=result.message)
    return Membership.from_row(result)


@strawberry.type
class SubscribeToPlanMutation:
    subscribe_to_plan: SubscribeToPlanResult = strawberry.mutation(
        resolver=subscribe_to_plan,
        description="Subscribe to a membership plan (monthly, billed by Stripe); while it is "
        "active, sessions at the plan operator's stations are priced on the plan's tariff.",
        permission_classes=[IsDriver],
    )
