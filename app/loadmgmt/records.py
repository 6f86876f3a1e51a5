"""What the scheduler records and announces of a decision: allocation rows, AllocationChanged."""

from collections.abc import Mapping
from datetime import datetime

from app.db.models import EvseAllocation
from app.events import EventBus
from app.loadmgmt.decisions import Plan
from app.services import capacity
from app.services.capacity_compiler import CompiledSite
from app.services.capacity_state import ActiveSession, Snapshot


def allocation_rows(
    *,
    plan: Plan,
    statuses: Mapping[int, str],
    site: CompiledSite,
    sessions: Mapping[int, ActiveSession],
    drawing: Mapping[int, float],
    idle_a: Mapping[int, float],
    offline: set[int],
    fixed: Mapping[int, float],
    now: datetime,
) -> list[EvseAllocation]:
    """Rows for a site's EVSEs: a session's limit and why, else the idle default.

    A limit that was not sent (a lower one was refused first) is DEFERRED: the EVSE keeps
    drawing what it holds, at most its max.
    """
    deferred = {
        e: min(drawing[e], site.network.max_on_a[site.network.index[str(e)]])
        for e in plan.to_send
        if e not in statuses
    }
    rows = [
        EvseAllocation(
            evse_id=evse_id,
            session_id=sessions[evse_id].session_id,
            limit_a=deferred.get(evse_id, amps),
            reason=plan.reasons[evse_id],
            status="DEFERRED"
            if evse_id in deferred
            else statuses.get(evse_id, "OFFLINE" if evse_id in fixed else "HELD"),
            updated_at=now,
        )
        for evse_id, amps in plan.limits_a.items()
    ]
    rows += [
        EvseAllocation(
            evse_id=evse_id,
            session_id=None,
            limit_a=idle_a[evse_id],
            reason="idle: safe default profile",
            status="OFFLINE" if evse_id in offline else "DEFAULT",
            updated_at=now,
        )
        for evse_id in site.evses
        if evse_id not in plan.limits_a
    ]
    return rows


async def publish_allocations(
    bus: EventBus, snap: Snapshot, sent: Mapping[int, float], now: datetime
) -> None:
    """`AllocationChanged` per location for the TxProfile limits just sent."""
    location_of = {n.evse_id: n.location_id for n in snap.nodes if n.evse_id is not None}
    by_location: dict[int, list[dict[str, object]]] = {}
    session_of = {s.evse_id: s.session_id for s in snap.sessions}
    for evse_id, amps in sent.items():
        location_id = location_of.get(evse_id)
        if location_id is not None:
            by_location.setdefault(location_id, []).append(
                {"evse_id": evse_id, "session_id": session_of.get(evse_id), "limit_a": amps}
            )
    for location_id, evses in by_location.items():
        await bus.publish(
            capacity.allocation_changed(location_id),
            {"type": "AllocationChanged", "location_id": location_id,
             "changed_at": now.isoformat(), "evses": evses},
        )  # fmt: skip
