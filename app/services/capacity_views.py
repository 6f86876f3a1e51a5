"""What operators read of load management: a node's limits, allocation and measured load."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select

from app.db.engine import SessionFactory
from app.db.models import CapacityLimit, CapacityNode, ChargingSession, EvseAllocation
from app.domain.enums import SessionStatus
from app.domain.errors import NotFound
from app.services.capacity_compiler import LINES, effective_limits


@dataclass(frozen=True, slots=True)
class LimitPeriod:
    """The node's effective limit over [start, end) (end None: from then on)."""

    start: datetime
    end: datetime | None
    limit_a: float | None
    limit_w: int | None


def limit_schedule(
    node: CapacityNode, limits: Sequence[CapacityLimit], now: datetime
) -> list[LimitPeriod]:
    """The node's static limits lowered by each window, from now to the last window's end."""
    points = sorted({now} | {t for x in limits for t in (x.valid_from, x.valid_to) if t > now})
    periods: list[LimitPeriod] = []
    for start, end in zip(points, [*points[1:], None], strict=True):
        limit_a, limit_w = effective_limits(
            node, [(x.limit_a, x.limit_w) for x in limits if x.valid_from <= start < x.valid_to]
        )
        if periods and (periods[-1].limit_a, periods[-1].limit_w) == (limit_a, limit_w):
            last = periods.pop()
            start = last.start
        periods.append(LimitPeriod(start, end, limit_a, limit_w))
    return periods


@dataclass(frozen=True, slots=True)
class NodeView:
    node: CapacityNode
    limit_a_now: float | None
    limit_w_now: int | None
    limits_ahead: Sequence[CapacityLimit]
    #: The effective limit from now on, one period per change.
    schedule: Sequence[LimitPeriod]
    #: Current allocated on the most loaded line below this node, A.
    allocated_a: float
    #: Power the active sessions below this node report, W.
    measured_w: int
    allocations: Sequence[EvseAllocation]
    children: Sequence[CapacityNode]


async def node_view(*, session_factory: SessionFactory, node_id: int, now: datetime) -> NodeView:
    async with session_factory() as db:
        node = await db.get(CapacityNode, node_id)
        if node is None:
            raise NotFound("CapacityNode", str(node_id))
        same_site = (
            col(CapacityNode.location_id).is_(None)
            if node.location_id is None
            else col(CapacityNode.location_id) == node.location_id
        )
        tree = list((await db.exec(select(CapacityNode).where(same_site))).all())
        below = _subtree(node, tree)
        evse_ids = [n.evse_id for n in below if n.evse_id is not None]
        limits = list(
            (
                await db.exec(
                    select(CapacityLimit)
                    .where(CapacityLimit.node_id == node_id, col(CapacityLimit.valid_to) > now)
                    .order_by(col(CapacityLimit.valid_from))
                )
            ).all()
        )
        allocations = list(
            (
                await db.exec(
                    select(EvseAllocation).where(col(EvseAllocation.evse_id).in_(evse_ids))
                )
            ).all()
        )
        powers = (
            await db.exec(
                select(ChargingSession.power_w).where(
                    col(ChargingSession.evse_id).in_(evse_ids),
                    col(ChargingSession.status) == SessionStatus.ACTIVE,
                )
            )
        ).all()
    limit_a, limit_w = effective_limits(
        node, [(x.limit_a, x.limit_w) for x in limits if x.valid_from <= now]
    )
    live = {a.evse_id: a.limit_a for a in allocations if a.session_id is not None}
    per_line = dict.fromkeys(LINES, 0.0)
    for evse_node in below:
        amps = live.get(evse_node.evse_id or -1, 0.0)
        for line in LINES:
            if line in evse_node.phases.value:
                per_line[line] += amps
    return NodeView(
        node=node,
        limit_a_now=limit_a,
        limit_w_now=limit_w,
        limits_ahead=limits,
        schedule=limit_schedule(node, limits, now),
        allocated_a=round(max(per_line.values()), 1),
        measured_w=sum(p or 0 for p in powers),
        allocations=allocations,
        children=[n for n in tree if n.parent_id == node_id],
    )


async def nodes_of_location(
    *, session_factory: SessionFactory, location_id: int
) -> list[CapacityNode]:
    async with session_factory() as db:
        rows = await db.exec(
            select(CapacityNode)
            .where(CapacityNode.location_id == location_id)
            .order_by(col(CapacityNode.id))
        )
        return list(rows.all())


async def session_limit(
    *, session_factory: SessionFactory, session_id: int
) -> EvseAllocation | None:
    """The scheduler's latest limit for a session, if it decided one."""
    async with session_factory() as db:
        rows = await db.exec(select(EvseAllocation).where(EvseAllocation.session_id == session_id))
        return rows.first()


def _subtree(node: CapacityNode, tree: Sequence[CapacityNode]) -> list[CapacityNode]:
    found, frontier = [node], {node.id}
    while frontier:
        layer = [n for n in tree if n.parent_id in frontier]
        found.extend(layer)
        frontier = {n.id for n in layer}
    return found
