"""`createMembershipPlan`: an operator admin puts a membership plan on sale."""

from typing import Annotated

import strawberry

from app.domain.errors import InvalidInput, NotFound
from app.graphql.context import Info
from app.graphql.permissions import IsOperatorAdmin, actor, operator_scope
from app.graphql.types import node
from app.graphql.types.membership import MembershipPlan
from app.graphql.types.payment import PaymentsUnavailable
from app.graphql.types.tariff import TARIFF
from app.services import memberships
from app.services.payments_results import PaymentsUnavailable as Unavailable


@strawberry.input
class CreateMembershipPlanInput:
    name: str = strawberry.field(description="1-100 characters, shown to drivers.")
    monthly_fee_minor: int = strawberry.field(description="1 to 100000, the tariff's currency.")
    tariff_id: strawberry.ID = strawberry.field(
        description="A Tariff of the caller's organisation: members are priced on it."
    )


@strawberry.type(description="The input is malformed or names another's tariff.")
class InvalidMembershipPlan:
    message: str


CreateMembershipPlanResult = Annotated[
    MembershipPlan | InvalidMembershipPlan | PaymentsUnavailable,
    strawberry.union("CreateMembershipPlanResult"),
]


async def create_membership_plan(
    info: Info, input: CreateMembershipPlanInput
) -> CreateMembershipPlanResult:
    tariff_id = node.decode_int(input.tariff_id, TARIFF)
    if tariff_id is None:
        return InvalidMembershipPlan(message=f"tariffId {input.tariff_id!r} is not a Tariff id")
    context = info.context
    if context.payments is None:
        return PaymentsUnavailable(message="payments are not configured on this network")
    try:
        plan = await memberships.create_plan(
            session_factory=context.session_factory, gateway=context.payments,
            scope=operator_scope(info), actor=actor(info), name=input.name,
            monthly_fee_minor=input.monthly_fee_minor, tariff_id=tariff_id,
        )  # fmt: skip
    except NotFound:
        return InvalidMembershipPlan(message=f"your organisation has no tariff {input.tariff_id!r}")
    except InvalidInput as exc:
        return InvalidMembershipPlan(message=str(exc))
    except Unavailable:
        return PaymentsUnavailable(message="payments are unavailable now: try again")
    return MembershipPlan.from_row(plan)


@strawberry.type
class CreateMembershipPlanMutation:
    create_membership_plan: CreateMembershipPlanResult = strawberry.mutation(
        resolver=create_membership_plan,
        description="Put a membership plan on sale: a Stripe Product with a monthly Plan, and "
        "one of the organisation's tariffs for members (operator admins; audited).",
        permission_classes=[IsOperatorAdmin],
    )
