"""Operator refunds of a session's payment: partial or full, never more than was captured.

A refund is reserved first (a PENDING row, checked in one transaction against what was
captured minus every refund PENDING or done), audited, then sent to Stripe per intent (the
hold's, then a remainder's) with the key `refund-<id>-<intent>`; each Stripe refund is booked
in the ledger once (`refund-<re_id>`, the step the `charge.refunded` webhook books too). An
unknown outcome stays PENDING and the reconciler repeats it with the same keys.
"""

from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.engine import SessionFactory
from app.db.models import ChargingSession, ChargingStation, Location
from app.db.models.payment import (
    LedgerKind,
    Payment,
    PaymentLedgerEntry,
    PaymentRefund,
    RefundStatus,
)
from app.domain.errors import Conflict, InvalidInput, NotFound
from app.services import audit
from app.services.alerts import OperatorScope
from app.services.payments_ledger import record
from app.services.payments_results import PaymentDeclined, Refunded, RefundResult
from app.services.ports import PaymentGateway

MAX_REQUEST_KEY = 64
_CLAIM_ATTEMPTS = 10
RETRY_AFTER = timedelta(seconds=1)  # a PENDING refund older than this was sent before


class NothingToRefund(Conflict):
    """The session's payment has nothing (more) to refund, or less than asked."""


async def _by_intent(db: AsyncSession, payment_id: int, kind: LedgerKind) -> dict[str, int]:
    statement = (
        select(PaymentLedgerEntry.intent_id, func.sum(PaymentLedgerEntry.amount_minor))
        .where(PaymentLedgerEntry.payment_id == payment_id, PaymentLedgerEntry.kind == kind)
        .group_by(col(PaymentLedgerEntry.intent_id))
    )
    return {str(intent): int(total) for intent, total in (await db.exec(statement)).all()}


async def _reserved(db: AsyncSession, payment_id: int) -> int:
    statement = select(func.coalesce(func.sum(PaymentRefund.amount_minor), 0)).where(
        PaymentRefund.payment_id == payment_id,
        col(PaymentRefund.status).in_([RefundStatus.PENDING, RefundStatus.SUCCEEDED]),
    )
    return int((await db.exec(statement)).one())


async def _session_payment(
    db: AsyncSession, scope: OperatorScope, session_id: int
) -> tuple[Payment, int | None]:
    """The captured payment of a session in `scope` and its organisation (NotFound else)."""
    statement = (
        select(ChargingSession, Location.operator_id)
        .join(ChargingStation, col(ChargingStation.id) == ChargingSession.station_id)
        .join(Location, col(Location.id) == ChargingStation.location_id, isouter=True)
        .where(ChargingSession.id == session_id)
    )
    found = (await db.exec(statement)).first()
    if found is None or (scope.operator_id is not None and found[1] != scope.operator_id):
        raise NotFound("ChargingSession", session_id)
    payment_statement = select(Payment).where(Payment.session_id == session_id).with_for_update()
    payment = (await db.exec(payment_statement)).first()
    if payment is None:
        raise NothingToRefund(f"session {session_id} has no card payment to refund")
    return payment, found[1]


async def check_refundable(
    *, session_factory: SessionFactory, scope: OperatorScope, session_id: int
) -> None:
    """NotFound unless the session is in `scope`; NothingToRefund without a card payment."""
    async with session_factory() as db:
        await _session_payment(db, scope, session_id)


async def _reserve(
    session_factory: SessionFactory,
    scope: OperatorScope,
    actor: str,
    session_id: int,
    amount_minor: int | None,
    reason: str,
    request_key: str,
) -> PaymentRefund | None:
    """The refund for `request_key`: found, or reserved now; None when another refund of the
    same payment committed meanwhile (the caller tries again)."""
    async with session_factory() as db:
        payment, operator_id = await _session_payment(db, scope, session_id)
        assert payment.id is not None
        statement = select(PaymentRefund).where(
            PaymentRefund.payment_id == payment.id, PaymentRefund.request_key == request_key
        )
        if (found := (await db.exec(statement)).first()) is not None:
            return found
        # Claim the payment row (compare-and-set on updated_at): of two racing refunds one
        # claims it, the other updates nothing and tries again, seeing the first's reservation.
        # Row locks alone would not do on SQLite, where reads take none.
        seen = payment.updated_at
        claimed = await db.exec(
            update(Payment)
            .where(col(Payment.id) == payment.id, col(Payment.updated_at) == seen)
            .values(updated_at=max(datetime.now(UTC), seen + timedelta(microseconds=1)))
        )
        if claimed.rowcount != 1:
            await db.rollback()
            return None
        captured = sum((await _by_intent(db, payment.id, LedgerKind.CAPTURE)).values())
        left = captured - await _reserved(db, payment.id)
        amount = left if amount_minor is None else amount_minor
        if left <= 0 or amount > left:
            raise NothingToRefund(
                f"session {session_id}: {amount_minor} asked but {max(left, 0)} "
                f"{payment.currency} of {captured} captured is left to refund"
            )
        refund = PaymentRefund(
            payment_id=payment.id, request_key=request_key, amount_minor=amount,
            currency=payment.currency, reason=reason, status=RefundStatus.PENDING,
            actor=actor[:100],
        )  # fmt: skip
        db.add(refund)
        await db.flush()
        await audit.record(
            db=db, actor=actor, operator_id=operator_id, action="payment.refund",
            target=f"session:{session_id}",
            detail={"refund_id": refund.id, "amount_minor": amount,
                    "currency": payment.currency, "reason": reason},
        )  # fmt: skip
        try:
            await db.commit()
        except IntegrityError:  # the same request_key, racing: the next attempt finds it
            await db.rollback()
            return None
        await db.refresh(refund)
        return refund


async def refund_session(
    *,
    session_factory: SessionFactory,
    gateway: PaymentGateway,
    scope: OperatorScope,
    actor: str,
    session_id: int,
    amount_minor: int | None,
    reason: str,
    request_key: str,
) -> PaymentRefund:
    """Refund `amount_minor` (default: all that is left) of a session's captured payment.

    Idempotent on `request_key`: a retry returns the first refund (sending it again only if
    it is still PENDING). Raises NotFound, InvalidInput or NothingToRefund.
    """
    reason = reason.strip()
    if not 1 <= len(reason) <= 255:
        raise InvalidInput(f"reason has {len(reason)} characters: expected 1 to 255")
    if not 1 <= len(request_key) <= MAX_REQUEST_KEY:
        raise InvalidInput(f"clientMutationId has {len(request_key)} characters: expected 1-64")
    if amount_minor is not None and amount_minor <= 0:
        raise InvalidInput(f"amountMinor {amount_minor}: expected more than 0")
    refund = None
    for _ in range(_CLAIM_ATTEMPTS):
        refund = await _reserve(
            session_factory, scope, actor, session_id, amount_minor, reason, request_key
        )
        if refund is not None:
            break
    if refund is None:
        raise Conflict(f"session {session_id}: too many concurrent refunds, try again")
    if refund.status != RefundStatus.PENDING:
        return refund
    retry = refund.created_at < datetime.now(UTC) - RETRY_AFTER  # not the one just reserved
    return await send_refund(
        session_factory=session_factory, gateway=gateway, refund=refund, retry=retry
    )


async def send_refund(
    *,
    session_factory: SessionFactory,
    gateway: PaymentGateway,
    refund: PaymentRefund,
    retry: bool = False,
) -> PaymentRefund:
    """Send a PENDING refund to Stripe, intent by intent; book what went through. A `retry`
    first looks for the Stripe refund an earlier attempt may have made (its key is in the
    refund's metadata), so a lost answer never refunds twice, even where idempotency keys
    are not honoured (localstripe)."""
    assert refund.id is not None
    async with session_factory() as db:
        payment = await db.get(Payment, refund.payment_id)
        assert payment is not None
        assert payment.id is not None
        captured = await _by_intent(db, payment.id, LedgerKind.CAPTURE)
        refunded = await _by_intent(db, payment.id, LedgerKind.REFUND)
        done = await _by_refund(db, refund)
    owed = refund.amount_minor - sum(done.values())
    ids = list(done)
    for intent_id in (payment.intent_id, payment.remainder_intent_id):
        if intent_id is None or owed <= 0:
            continue
        part = min(owed, captured.get(intent_id, 0) - refunded.get(intent_id, 0))
        if part <= 0:
            continue
        key = f"refund-{refund.id}-{intent_id}"
        result: RefundResult | None = None
        if retry:  # an earlier attempt may have gone through with its answer lost
            result = await gateway.find_refund(intent_id=intent_id, refund_key=key)
        if result is None:
            result = await gateway.refund(
                intent_id=intent_id, amount_minor=part, idempotency_key=key,
                metadata={"payment_id": str(payment.id), "refund_id": str(refund.id),
                          "refund_key": key},
            )  # fmt: skip
        if isinstance(result, PaymentDeclined):
            return await _close(session_factory, refund, RefundStatus.FAILED, result.message)
        if not isinstance(result, Refunded):
            return refund  # unknown: stays PENDING for the reconciler
        async with session_factory() as db:
            row = await db.get(Payment, payment.id)
            assert row is not None
            await record(
                db, row, LedgerKind.REFUND, f"refund-{result.refund_id}", result.amount_minor,
                intent_id=intent_id, stripe_object_id=result.refund_id,
            )  # fmt: skip
            ids.append(result.refund_id)
            # Booked with the ledger entry: a retry after a crash knows this part is done.
            pending = await db.get(PaymentRefund, refund.id)
            assert pending is not None
            pending.stripe_refund_ids = ",".join(ids)[:255]
            await db.commit()
        owed -= result.amount_minor
    if owed > 0:
        return await _close(session_factory, refund, RefundStatus.FAILED, "nothing left to refund")
    return await _close(session_factory, refund, RefundStatus.SUCCEEDED, None, ids)


async def _by_refund(db: AsyncSession, refund: PaymentRefund) -> dict[str, int]:
    """Stripe refunds already booked for `refund` (a retry after a crash), by refund id."""
    if not refund.stripe_refund_ids:
        return {}
    statement = select(PaymentLedgerEntry).where(
        col(PaymentLedgerEntry.stripe_object_id).in_(refund.stripe_refund_ids.split(","))
    )
    return {str(e.stripe_object_id): e.amount_minor for e in (await db.exec(statement)).all()}


async def _close(
    session_factory: SessionFactory,
    refund: PaymentRefund,
    status: RefundStatus,
    failure: str | None,
    ids: list[str] | None = None,
) -> PaymentRefund:
    async with session_factory() as db:
        row = await db.get(PaymentRefund, refund.id)
        assert row is not None
        row.status, row.failure = status, failure[:255] if failure else None
        row.stripe_refund_ids = ",".join(ids or [])[:255]
        row.updated_at = datetime.now(UTC)
        await db.commit()
        await db.refresh(row)
        return row


async def retry_pending_refunds(
    *, session_factory: SessionFactory, gateway: PaymentGateway
) -> list[PaymentRefund]:
    """A reconciler pass: send again every refund whose outcome was unknown."""
    async with session_factory() as db:
        statement = select(PaymentRefund).where(PaymentRefund.status == RefundStatus.PENDING)
        pending = (await db.exec(statement.order_by(col(PaymentRefund.id)))).all()
    return [
        await send_refund(
            session_factory=session_factory, gateway=gateway, refund=refund, retry=True
        )
        for refund in pending
    ]


async def session_payment(
    *, session_factory: SessionFactory, driver_id: int, session_id: int
) -> tuple[Payment, int] | None:
    """The driver's own session's payment and how much of it was refunded (None: no payment;
    another driver's session is NotFound, like a missing one)."""
    async with session_factory() as db:
        session = await db.get(ChargingSession, session_id)
        if session is None or session.driver_id != driver_id:
            raise NotFound("ChargingSession", session_id)
        payment = (await db.exec(select(Payment).where(Payment.session_id == session_id))).first()
        if payment is None or payment.id is None:
            return None
        refunded = sum((await _by_intent(db, payment.id, LedgerKind.REFUND)).values())
    return payment, refunded
