"""The payment ledger: every authorisation, capture, release and refund, guarded by the backend.

The guards do not trust the provider: captured ≤ authorised and refunded ≤ captured hold per
payment whatever Stripe (or a fake of it) answers, and a step is recorded once (`step_key`).
"""

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.models.payment import LedgerKind, Payment, PaymentLedgerEntry
from app.domain.errors import Conflict


class LedgerViolation(Conflict):
    """A movement of money the ledger refuses (more captured than held, refunded than taken)."""


async def totals(db: AsyncSession, payment_id: int) -> dict[LedgerKind, int]:
    """Sum of each kind of movement of one payment, minor units."""
    statement = (
        select(PaymentLedgerEntry.kind, func.sum(PaymentLedgerEntry.amount_minor))
        .where(PaymentLedgerEntry.payment_id == payment_id)
        .group_by(col(PaymentLedgerEntry.kind))
    )
    found = {LedgerKind(kind): int(total) for kind, total in (await db.exec(statement)).all()}
    return {kind: found.get(kind, 0) for kind in LedgerKind}


async def recorded(db: AsyncSession, payment: Payment, step: str) -> PaymentLedgerEntry | None:
    statement = select(PaymentLedgerEntry).where(
        PaymentLedgerEntry.step_key == f"payment-{payment.id}-{step}"
    )
    return (await db.exec(statement)).first()


async def record(
    db: AsyncSession,
    payment: Payment,
    kind: LedgerKind,
    step: str,
    amount_minor: int,
    *,
    intent_id: str | None = None,
    stripe_object_id: str | None = None,
) -> PaymentLedgerEntry:
    """Add one movement to `db`'s transaction, once per step; refuse what breaks the guards."""
    assert payment.id is not None
    if (existing := await recorded(db, payment, step)) is not None:
        return existing
    sums = await totals(db, payment.id)
    sums[kind] += amount_minor
    if sums[LedgerKind.CAPTURE] + sums[LedgerKind.RELEASE] > sums[LedgerKind.AUTHORISATION]:
        raise LedgerViolation(
            f"payment {payment.id}: {sums[LedgerKind.CAPTURE]} captured and "
            f"{sums[LedgerKind.RELEASE]} released would exceed "
            f"{sums[LedgerKind.AUTHORISATION]} authorised"
        )
    if sums[LedgerKind.REFUND] > sums[LedgerKind.CAPTURE]:
        raise LedgerViolation(
            f"payment {payment.id}: {sums[LedgerKind.REFUND]} refunded would exceed "
            f"{sums[LedgerKind.CAPTURE]} captured"
        )
    entry = PaymentLedgerEntry(
        payment_id=payment.id,
        kind=kind,
        step_key=f"payment-{payment.id}-{step}",
        amount_minor=amount_minor,
        currency=payment.currency,
        intent_id=intent_id or payment.intent_id,
        stripe_object_id=stripe_object_id,
    )
    db.add(entry)
    await db.flush()
    return entry
