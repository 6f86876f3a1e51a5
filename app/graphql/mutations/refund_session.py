"""`refundSession`: an operator admin returns part or all of what a session's driver paid."""

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from app.db.models.payment import PaymentRefund
from app.domain.errors import InvalidInput, NotFound
from app.graphql.context import Info
from app.graphql.permissions import IsOperatorAdmin, actor, operator_scope
from app.graphql.types import node
from app.graphql.types.payment import PaymentsUnavailable
from app.graphql.types.session import CHARGING_SESSION
from app.services import refunds
from app.services.payments_results import PaymentsUnavailable as Unavailable


@strawberry.input
class RefundSessionInput:
    session_id: strawberry.ID = strawberry.field(description="Global id of the ChargingSession.")
    amount_minor: int | None = strawberry.field(
        default=None, description="Minor units to refund; default: everything not yet refunded."
    )
    reason: str = strawberry.field(description="Why (1-255 characters); kept in the audit log.")
    client_mutation_id: str = strawberry.field(
        description="1-64 characters, unique per refund: a retry with the same value returns "
        "the first refund and never refunds twice."
    )


@strawberry.enum(description="PENDING: sent, outcome not yet known (retried automatically).")
class RefundState(Enum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


@strawberry.type(description="A refund of a session's payment.")
class SessionRefund:
    session_id: strawberry.ID
    amount_minor: int
    currency: str
    reason: str
    status: RefundState
    failure: str | None
    created_at: datetime

    @classmethod
    def from_row(cls, session_id: strawberry.ID, row: PaymentRefund) -> "SessionRefund":
        return cls(
            session_id=session_id, amount_minor=row.amount_minor, currency=row.currency,
            reason=row.reason, status=RefundState(row.status.value), failure=row.failure,
            created_at=row.created_at,
        )  # fmt: skip


@strawberry.type(description="No session of the caller's organisation has this id.")
class RefundSessionNotFound:
    message: str


@strawberry.type(
    description="Nothing (or less than asked) is left to refund: `message` says how much."
)
class NothingToRefund:
    message: str


@strawberry.type(description="The input is malformed: `message` names the bad value.")
class InvalidRefund:
    message: str


RefundSessionResult = Annotated[
    SessionRefund | RefundSessionNotFound | NothingToRefund | InvalidRefund | PaymentsUnavailable,
    strawberry.union("RefundSessionResult"),
]


async def refund_session(info: Info, input: RefundSessionInput) -> RefundSessionResult:
    key = node.decode_int(input.session_id, CHARGING_SESSION)
    if key is None:
        return RefundSessionNotFound(message=f"{input.session_id!r} is not a ChargingSession id")
    gateway = info.context.payments
    if gateway is None:
        # Another organisation's session stays unknown, configured or not.
        try:
            await refunds.check_refundable(
                session_factory=info.context.session_factory,
                scope=operator_scope(info),
                session_id=key,
            )
        except NotFound:
            return RefundSessionNotFound(message=f"no session has id {input.session_id!r}")
        except refunds.NothingToRefund as exc:
            return NothingToRefund(message=str(exc))
        return PaymentsUnavailable(message="payments are not configured: STRIPE_SECRET_KEY")
    try:
        row = await refunds.refund_session(
            session_factory=info.context.session_factory, gateway=gateway,
            scope=operator_scope(info), actor=actor(info), session_id=key,
            amount_minor=input.amount_minor, reason=input.reason,
            request_key=input.client_mutation_id,
        )  # fmt: skip
    except NotFound:
        return RefundSessionNotFound(message=f"no session has id {input.session_id!r}")
    except refunds.NothingToRefund as exc:
        return NothingToRefund(message=str(exc))
    except InvalidInput as exc:
        return InvalidRefund(message=str(exc))
    except Unavailable as exc:
        return PaymentsUnavailable(message=str(exc))
    return SessionRefund.from_row(input.session_id, row)


@strawberry.type
class RefundSessionMutation:
    refund_session: RefundSessionResult = strawberry.mutation(
        resolver=refund_session,
        description="Refund part or all of a session's captured payment (operator admins of "
        "the session's location's organisation; audited; never more than was captured).",
        permission_classes=[IsOperatorAdmin],
    )
