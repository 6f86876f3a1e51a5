"""Grid limits from an OpenADR VTN, stored as the OPENADR capacity limits of named nodes."""

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, delete, select

from app.db.engine import SessionFactory
from app.db.models import CapacityLimit, CapacityNode
from app.db.models.capacity import LimitSource
from app.events import EventBus
from app.services.capacity import LIMITS_CHANGED

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GridLimit:
    node_name: str
    limit_a: float | None
    limit_w: int | None
    valid_from: datetime
    valid_to: datetime


async def sync_openadr_limits(
    *, session_factory: SessionFactory, bus: EventBus, limits: list[GridLimit], now: datetime
) -> bool:
    """Make the OPENADR limits still ahead exactly `limits`; True (and an event) if they changed.

    Limits naming no known node are skipped with a warning; past ones are left as history.
    """
    async with session_factory() as db:
        nodes = (await db.exec(select(CapacityNode))).all()
        by_name = {n.name: n.id for n in nodes if n.id is not None}
        wanted = set()
        for limit in limits:
            node_id = by_name.get(limit.node_name)
            if node_id is None:
                log.warning("OpenADR target %r names no capacity node", limit.node_name)
                continue
            if limit.valid_to > now and limit.valid_from < limit.valid_to:
                wanted.add(
                    (node_id, limit.limit_a, limit.limit_w, limit.valid_from, limit.valid_to)
                )
        current = (
            await db.exec(
                select(CapacityLimit).where(
                    CapacityLimit.source == LimitSource.OPENADR, col(CapacityLimit.valid_to) > now
                )
            )
        ).all()
        have = {(x.node_id, x.limit_a, x.limit_w, x.valid_from, x.valid_to) for x in current}
        if have == wanted:
            return False
        await db.exec(
            delete(CapacityLimit).where(
                col(CapacityLimit.source) == LimitSource.OPENADR, col(CapacityLimit.valid_to) > now
            )
        )
        for node_id, amps, watts, start, end in sorted(wanted, key=lambda w: (w[0], w[3])):
            db.add(
                CapacityLimit(
                    node_id=node_id, limit_a=amps, limit_w=watts, valid_from=start,
                    valid_to=end, source=LimitSource.OPENADR,
                )
            )  # fmt: skip
        await db.commit()
    await bus.publish(LIMITS_CHANGED, {"type": "OpenAdrLimitsSynced", "limits": len(wanted)})
    return True
