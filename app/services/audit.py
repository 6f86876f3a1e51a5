"""The audit log: record operator and partner actions; list them for an organisation's admins.

`record` writes in the caller's session and commits nothing: the record lands in the same
transaction as the change it describes (or, for a refused action, the caller commits it alone).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.engine import SessionFactory
from app.db.models import AuditRecord
from app.services.alerts import OperatorScope

OK = "OK"


async def record(
    *,
    db: AsyncSession,
    actor: str,
    operator_id: int | None,
    action: str,
    target: str,
    result: str = OK,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditRecord:
    """Add one audit row to `db` (flushed, not committed: commit it with your change).

    `action` is a verb-ish name (`api_key.create`, `station.reset`); `target` names the object
    (`api-key:ck_ab12`, `station:CS1`); `result` is `OK` or why it did not happen. `detail` must
    never hold secrets (keys, passwords, tokens): it is shown to the organisation's admins.
    """
    row = AuditRecord(
        actor=actor[:100],
        operator_id=operator_id,
        action=action[:100],
        target=target[:255],
        result=result[:50],
        detail=detail,
    )
    if at is not None:
        row.at = at
    db.add(row)
    await db.flush()
    return row


async def record_now(
    *,
    session_factory: SessionFactory,
    actor: str,
    operator_id: int | None,
    action: str,
    target: str,
    result: str = OK,
    detail: dict[str, Any] | None = None,
) -> AuditRecord:
    """`record` in its own transaction, committed: for actions with no row of their own."""
    async with session_factory() as db:
        row = await record(
            db=db,
            actor=actor,
            operator_id=operator_id,
            action=action,
            target=target,
            result=result,
            detail=detail,
        )
        await db.commit()
        return row


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actions: tuple[str, ...] = ()
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditPage:
    records: Sequence[AuditRecord]
    has_next_page: bool


async def list_records(
    *,
    session_factory: SessionFactory,
    scope: OperatorScope,
    filter: AuditFilter,
    first: int,
    before_id: int | None = None,
) -> AuditPage:
    """Newest first, `first` rows older than `before_id`; only `scope`'s organisation's rows
    (the whole network's for an unscoped caller)."""
    statement = select(AuditRecord)
    if scope.operator_id is not None:
        statement = statement.where(AuditRecord.operator_id == scope.operator_id)
    if filter.actions:
        statement = statement.where(col(AuditRecord.action).in_(filter.actions))
    if filter.actor is not None:
        statement = statement.where(AuditRecord.actor == filter.actor)
    if filter.since is not None:
        statement = statement.where(col(AuditRecord.at) >= filter.since)
    if filter.until is not None:
        statement = statement.where(col(AuditRecord.at) < filter.until)
    if before_id is not None:
        statement = statement.where(col(AuditRecord.id) < before_id)
    statement = statement.order_by(col(AuditRecord.id).desc()).limit(first + 1)
    async with session_factory() as db:
        rows = list((await db.exec(statement)).all())
    return AuditPage(records=rows[:first], has_next_page=len(rows) > first)
