"""What `removePaymentMethod` and `setDefaultPaymentMethod` share: change one saved method,
answer the caller's methods afterwards, or the expected failure."""

from typing import Protocol

import strawberry

from app.db.engine import SessionFactory
from app.domain.errors import NotFound
from app.graphql.context import Info
from app.graphql.permissions import current_driver_id
from app.graphql.types.payment import PaymentMethod, PaymentMethodNotFound, PaymentsUnavailable
from app.services import payments
from app.services.payments_results import PaymentsNotConfigured
from app.services.payments_results import PaymentsUnavailable as Unavailable
from app.services.ports import PaymentGateway


class MethodChange(Protocol):
    """A service that changes one of a driver's saved methods (raises NotFound if not theirs)."""

    async def __call__(
        self,
        *,
        session_factory: SessionFactory,
        gateway: PaymentGateway | None,
        driver_id: int,
        payment_method_id: str,
    ) -> None: ...


async def change_saved_method(
    info: Info, payment_method_id: strawberry.ID, change: MethodChange
) -> list[PaymentMethod] | PaymentMethodNotFound | PaymentsUnavailable:
    """Apply `change` to the caller's method; their saved methods after it."""
    context, driver_id = info.context, current_driver_id(info)
    try:
        await change(
            session_factory=context.session_factory,
            gateway=context.payments,
            driver_id=driver_id,
            payment_method_id=str(payment_method_id),
        )
        saved = await payments.list_payment_methods(
            session_factory=context.session_factory, gateway=context.payments, driver_id=driver_id
        )
    except NotFound:
        shown = str(payment_method_id)
        return PaymentMethodNotFound(message=f"you have no payment method {shown!r}")
    except (PaymentsNotConfigured, Unavailable) as exc:
        return PaymentsUnavailable(message=str(exc))
    return [PaymentMethod.from_saved(s) for s in saved]
