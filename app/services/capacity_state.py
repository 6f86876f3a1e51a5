"""What the load-management scheduler reads and writes: the trees, limits in force, sessions."""

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select

from app.db.engine import SessionFactory
from app.db.models import CapacityLimit, CapacityNode, ChargingSession, Evse, EvseAllocation
from app.domain.enums import SessionStatus


@dataclass(frozen=True, slots=True)
class ActiveSession:
    session_id: int
    evse_id: int
    station_id: str
    ocpp_evse_id: int
    transaction_id: str
    started_at: datetime
    energy_wh: int
    requested_energy_wh: int | None
    departure_at: datetime | None
    power_w: int | None
    #: The EVSE node's priority: higher is served first.
    priority: int = 0


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything one recompute needs, read in one short transaction."""

    nodes: Sequence[CapacityNode]
    #: Limits in force now, per node: (limit_a, limit_w).
    limits_now: Mapping[int, Sequence[tuple[float | None, int | None]]]
    #: The next time a limit starts or ends (the scheduler wakes then), or None.
    next_change_at: datetime | None
    sessions: Sequence[ActiveSession]
    #: (station id, OCPP EVSE number) of every EVSE in a tree, by EVSE id.
    evse_addresses: Mapping[int, tuple[str, int]]
    #: Every limit in force now or later, earliest start first (profiles carry them ahead).
    limits: Sequence[CapacityLimit] = ()


async def read_snapshot(
    *,
    session_factory: SessionFactory,
    now: datetime,
    evses_of: Callable[[Sequence[CapacityNode]], Collection[int]] | None = None,
) -> Snapshot:
    """The trees and limits, and the sessions and addresses of the EVSEs `evses_of` picks from
    the nodes (default: every EVSE in a tree; an event's pass reads only its sites')."""
    async with session_factory() as db:
        nodes = list((await db.exec(select(CapacityNode).order_by(col(CapacityNode.id)))).all())
        limits = (
            await db.exec(
                select(CapacityLimit)
                .where(col(CapacityLimit.valid_to) > now)
                .order_by(col(CapacityLimit.valid_from), col(CapacityLimit.id))
            )
        ).all()
        evse_ids = (
            [n.evse_id for n in nodes if n.evse_id is not None]
            if evses_of is None
            else list(evses_of(nodes))
        )
        evses = (await db.exec(select(Evse).where(col(Evse.id).in_(evse_ids)))).all()
        rows = (
            await db.exec(
                select(ChargingSession, Evse)
                .join(Evse, col(Evse.id) == col(ChargingSession.evse_id))
                .where(
                    col(ChargingSession.status) == SessionStatus.ACTIVE,
                    col(ChargingSession.evse_id).in_(evse_ids),
                )
                .order_by(col(ChargingSession.id))
            )
        ).all()
    limits_now: dict[int, list[tuple[float | None, int | None]]] = {}
    changes: list[datetime] = []
    for limit in limits:
        if limit.valid_from <= now:
            limits_now.setdefault(limit.node_id, []).append((limit.limit_a, limit.limit_w))
            changes.append(limit.valid_to)
        else:
            changes.append(limit.valid_from)
    priority_of = {n.evse_id: n.priority for n in nodes if n.evse_id is not None}
    sessions = [
        ActiveSession(
            session_id=s.id,
            evse_id=s.evse_id,
            station_id=s.station_id,
            ocpp_evse_id=e.ocpp_evse_id,
            transaction_id=s.transaction_id,
            started_at=s.started_at,
            energy_wh=s.energy_wh,
            requested_energy_wh=s.requested_energy_wh,
            departure_at=s.departure_at,
            power_w=s.power_w,
            priority=priority_of.get(s.evse_id, 0),
        )
        for s, e in rows
        if s.id is not None
    ]
    return Snapshot(
        nodes=nodes,
        limits_now=limits_now,
        next_change_at=min(changes, default=None),
        sessions=sessions,
        evse_addresses={e.id: (e.station_id, e.ocpp_evse_id) for e in evses if e.id is not None},
        limits=list(limits),
    )


async def record_allocations(
    *, session_factory: SessionFactory, rows: Sequence[EvseAllocation]
) -> None:
    """Upsert the scheduler's latest decision per EVSE (what GraphQL shows)."""
    if not rows:
        return
    async with session_factory() as db:
        dialect = db.bind.dialect.name if db.bind is not None else "sqlite"
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        for row in rows:
            values = {
                "evse_id": row.evse_id,
                "session_id": row.session_id,
                "limit_a": row.limit_a,
                "reason": row.reason[:64],
                "status": row.status[:16],
                "updated_at": row.updated_at,
            }
            statement = insert(EvseAllocation).values(**values)
            statement = statement.on_conflict_do_update(
                index_elements=["evse_id"],
                set_={k: v for k, v in values.items() if k != "evse_id"},
            )
            await db.exec(statement)
        await db.commit()
