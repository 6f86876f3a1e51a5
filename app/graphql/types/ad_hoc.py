"""Guest (ad hoc) payments in the API: the intent to confirm, and the live status / receipt."""

from datetime import datetime
from enum import Enum

import strawberry

from app.db.models.payment import AdHocStatus, PaymentStatus
from app.domain.enums import SessionStatus
from app.graphql.types import node
from app.services.adhoc_payments import AdHocView
from app.services.commands import LIVE


@strawberry.enum(description="Where a guest's payment and session are.")
class AdHocSessionStatus(Enum):
    AWAITING_PAYMENT = "AWAITING_PAYMENT"
    STARTING = "STARTING"
    CHARGING = "CHARGING"
    COMPLETED = "COMPLETED"
    NOT_STARTED = "NOT_STARTED"
    EXPIRED = "EXPIRED"


@strawberry.type(
    description="A guest payment created: confirm `clientSecret` with Stripe.js in the "
    "browser; keep `receiptToken` (shown once) to follow the session and read the receipt."
)
class AdHocPaymentCreated:
    payment_intent_id: str
    client_secret: str
    receipt_token: str
    amount_minor: int = strawberry.field(description="The hold: the most the session costs.")
    currency: str
    expires_at: datetime = strawberry.field(description="Authorise and start before this.")


@strawberry.type(description="A guest's session: live status, then the receipt.")
class AdHocSession:
    status: AdHocSessionStatus
    evse_id: strawberry.ID
    held_minor: int = strawberry.field(description="Authorised on the card (0 before).")
    currency: str
    energy_wh: int | None
    cost_incl_vat_minor: int | None = strawberry.field(
        description="Cost so far; the receipt's total once COMPLETED."
    )
    captured_minor: int = strawberry.field(description="Taken from the card (after the end).")
    started_at: datetime | None
    ended_at: datetime | None
    expires_at: datetime

    @classmethod
    def from_view(cls, view: AdHocView) -> "AdHocSession":
        ad_hoc, payment, command, session = view.ad_hoc, view.payment, view.command, view.session
        if ad_hoc.status == AdHocStatus.EXPIRED:
            status = AdHocSessionStatus.EXPIRED
        elif ad_hoc.status == AdHocStatus.CREATED:
            status = AdHocSessionStatus.AWAITING_PAYMENT
        elif session is not None:
            done = session.status == SessionStatus.COMPLETED
            status = AdHocSessionStatus.COMPLETED if done else AdHocSessionStatus.CHARGING
        elif command is not None and command.status in LIVE:
            status = AdHocSessionStatus.STARTING
        else:
            status = AdHocSessionStatus.NOT_STARTED
        held = payment.authorised_minor if payment.status != PaymentStatus.RELEASED else 0
        return cls(
            status=status,
            evse_id=strawberry.ID(str(node.global_id(node.EVSE, ad_hoc.evse_id))),
            held_minor=held,
            currency=payment.currency,
            energy_wh=session.energy_wh if session else None,
            cost_incl_vat_minor=session.cost_incl_vat_minor if session else None,
            captured_minor=payment.captured_minor,
            started_at=session.started_at if session else None,
            ended_at=session.ended_at if session else None,
            expires_at=ad_hoc.expires_at,
        )
