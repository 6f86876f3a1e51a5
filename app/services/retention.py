"""Retention: purge the OCPP message log and closed status/connectivity history past their age.

Runs on the leader only (one purger for the network). Deletes go in batches of ids so that no
single statement holds locks on, or builds an undo log for, millions of rows; an interval still
open (`ended_at` None) is current state and is never purged, however old its start.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from app.db.engine import SessionFactory
from app.db.models import EvseStatusInterval, OcppMessageLog, StationConnectivityInterval
from app.services.periodic import PeriodicTask

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Purged:
    """Rows deleted by one pass, per table."""

    messages: int
    statuses: int
    connectivity: int


async def _purge(
    session_factory: SessionFactory, model: Any, condition: Any, *, batch: int, max_batches: int
) -> int:
    """Delete rows of `model` matching `condition`, `batch` ids at a time (bounded passes)."""
    total = 0
    for _ in range(max_batches):
        async with session_factory() as db:
            ids = (await db.exec(select(model.id).where(condition).limit(batch))).all()
            if not ids:
                break
            await db.exec(sa.delete(model).where(col(model.id).in_(ids)))
            await db.commit()
        total += len(ids)
        if len(ids) < batch:
            break
    return total


class RetentionPurger(PeriodicTask):
    """`async with` purges every `interval_s`; `purge_once(now=...)` for tests."""

    task_name = "retention purge"

    def __init__(
        self,
        *,
        session_factory: SessionFactory,
        message_log_days: int,
        status_history_days: int,
        interval_s: float = 3600.0,
        batch: int = 1000,
        max_batches: int = 1000,
    ) -> None:
        if message_log_days < 1 or status_history_days < 1:
            raise ValueError(
                f"retention of {message_log_days} / {status_history_days} days: expected >= 1"
            )
        super().__init__(interval_s=interval_s)
        self._session_factory = session_factory
        self.message_log_age = timedelta(days=message_log_days)
        self.status_history_age = timedelta(days=status_history_days)
        self.batch = batch
        self.max_batches = max_batches

    async def run_pass(self) -> None:
        await self.purge_once()

    async def purge_once(self, *, now: datetime | None = None) -> Purged:
        at = now or datetime.now(UTC)
        frames_before = at - self.message_log_age
        history_before = at - self.status_history_age

        def closed_before(model: Any) -> Any:
            return col(model.ended_at).is_not(None) & (col(model.ended_at) < history_before)

        factory, sizes = (
            self._session_factory,
            {"batch": self.batch, "max_batches": self.max_batches},
        )
        purged = Purged(
            messages=await _purge(
                factory, OcppMessageLog, col(OcppMessageLog.created_at) < frames_before, **sizes
            ),
            statuses=await _purge(
                factory, EvseStatusInterval, closed_before(EvseStatusInterval), **sizes
            ),
            connectivity=await _purge(
                factory,
                StationConnectivityInterval,
                closed_before(StationConnectivityInterval),
                **sizes,
            ),
        )
        if purged.messages or purged.statuses or purged.connectivity:
            log.info("retention purged %s", purged)
        return purged
