"""`sessionPayment`: what a driver's session cost their card (held, taken, refunded, declined)."""

from enum import Enum

import strawberry

from app.domain.errors import NotFound
from app.graphql.context import Info
from app.graphql.permissions import IsDriver, current_driver_id
from app.graphql.types.session import decode_session_id
from app.services import refunds


@strawberry.enum(description="FAILED: the charge was declined or could not be collected.")
class SessionPaymentStatus(Enum):
    HOLD_PENDING = "HOLD_PENDING"
    AUTHORISED = "AUTHORISED"
    DECLINED = "DECLINED"
    CAPTURE_PENDING = "CAPTURE_PENDING"
    CAPTURED = "CAPTURED"
    RELEASED = "RELEASED"
    FAILED = "FAILED"


@strawberry.type(description="The card payment of a session, in minor units of `currency`.")
class SessionPayment:
    status: SessionPaymentStatus
    currency: str
    held_minor: int = strawberry.field(description="Authorised before the start (0 for RFID).")
    owed_minor: int | None = strawberry.field(description="The receipt's total, once ended.")
    captured_minor: int
    refunded_minor: int
    decline_message: str | None


async def session_payment(info: Info, session_id: strawberry.ID) -> SessionPayment | None:
    key = decode_session_id(str(session_id))
    if key is None:
        return None
    try:
        found = await refunds.session_payment(
            session_factory=info.context.session_factory,
            driver_id=current_driver_id(info),
            session_id=key,
        )
    except NotFound:
        return None
    if found is None:
        return None
    payment, refunded = found
    return SessionPayment(
        status=SessionPaymentStatus(payment.status.value),
        currency=payment.currency,
        held_minor=payment.authorised_minor,
        owed_minor=payment.amount_to_capture_minor,
        captured_minor=payment.captured_minor,
        refunded_minor=refunded,
        decline_message=payment.decline_message,
    )


@strawberry.type
class PaymentQueries:
    session_payment: SessionPayment | None = strawberry.field(
        resolver=session_payment,
        description="The caller's session's card payment (null: none, or not the caller's).",
        permission_classes=[IsDriver],
    )
