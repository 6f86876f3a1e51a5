"""Load management as operators see it: capacity nodes, limits, allocations."""

from datetime import datetime
from typing import Any

import strawberry
from strawberry import relay

from app.db import models
from app.db.models.capacity import CapacityNodeKind, PhaseRotation, PhaseWiring
from app.graphql.types import node
from app.services.capacity_views import NodeView

CAPACITY_NODE = "CapacityNode"
CHARGING_SESSION = "ChargingSession"

strawberry.enum(CapacityNodeKind, description="Level of a node in a site's electrical tree.")
strawberry.enum(PhaseWiring, description="The site lines an EVSE draws on.")
strawberry.enum(PhaseRotation, description="OCPP phase rotation of an EVSE's connection.")


@strawberry.type(description="A limit on a capacity node for a time window (demand response).")
class CapacityLimit:
    limit_a: float | None = strawberry.field(description="Amps on each line.")
    limit_w: int | None = strawberry.field(description="Watts over all lines.")
    valid_from: datetime
    valid_to: datetime
    source: str = strawberry.field(description="OPERATOR or OPENADR.")

    @classmethod
    def from_row(cls, row: models.CapacityLimit) -> "CapacityLimit":
        return cls(
            limit_a=row.limit_a,
            limit_w=row.limit_w,
            valid_from=row.valid_from,
            valid_to=row.valid_to,
            source=row.source.value,
        )


@strawberry.type(description="A node's effective limit over a time window.")
class LimitPeriod:
    start: datetime
    end: datetime | None = strawberry.field(description="null: from `start` on.")
    limit_a: float | None = strawberry.field(description="Amps on each line; null: no limit.")
    limit_w: int | None = strawberry.field(description="Watts over all lines; null: no limit.")


@strawberry.type(description="The charging limit the scheduler holds an EVSE's session to.")
class ChargingLimit:
    evse_id: relay.GlobalID
    session_id: relay.GlobalID | None
    limit_a: float = strawberry.field(description="Amps on each line the EVSE draws on.")
    reason: str = strawberry.field(description="Why: allocated, paused, uncontrolled ...")
    status: str = strawberry.field(
        description="The station's answer: ACCEPTED, REJECTED, FAILED, TIMEOUT, OFFLINE, "
        "DEFERRED (waiting for another station to lower first), HELD (unchanged)."
    )
    updated_at: datetime

    @classmethod
    def from_row(cls, row: models.EvseAllocation) -> "ChargingLimit":
        return cls(
            evse_id=node.global_id(node.EVSE, row.evse_id),
            session_id=node.global_id(CHARGING_SESSION, row.session_id)
            if row.session_id is not None
            else None,
            limit_a=row.limit_a,
            reason=row.reason,
            status=row.status,
            updated_at=row.updated_at,
        )


@strawberry.type(description="A node of a site's electrical tree and what it carries now.")
class CapacityNode:
    id: relay.GlobalID
    name: str
    kind: str = strawberry.field(description="GRID, SITE, CIRCUIT, STATION or EVSE.")
    parent_id: relay.GlobalID | None
    limit_a: float | None = strawberry.field(description="Static limit, amps on each line.")
    limit_w: int | None = strawberry.field(description="Static limit, watts over all lines.")
    limit_a_now: float | None = strawberry.field(description="The lowest amps limit in force.")
    limit_w_now: int | None = strawberry.field(description="The lowest watts limit in force.")
    limits_ahead: list[CapacityLimit] = strawberry.field(
        description="Demand-response limits in force now or later, earliest first."
    )
    limit_schedule: list[LimitPeriod] = strawberry.field(
        description="The effective limit now and ahead (static limits lowered by every "
        "window), one period per change; the scheduler pushes it to stations ahead of time."
    )
    allocated_a: float = strawberry.field(description="Allocated amps on its busiest line.")
    measured_w: int = strawberry.field(description="Power its active sessions report, W.")
    charging_limits: list[ChargingLimit] = strawberry.field(
        description="The limit of every EVSE below it."
    )
    child_ids: list[relay.GlobalID]
    priority: int = strawberry.field(
        description="EVSE nodes: sessions here are served before lower priorities."
    )

    @classmethod
    def from_view(cls, view: NodeView) -> "CapacityNode":
        row = view.node
        assert row.id is not None
        return cls(
            id=node.global_id(CAPACITY_NODE, row.id),
            name=row.name,
            kind=row.kind.value,
            parent_id=node.global_id(CAPACITY_NODE, row.parent_id) if row.parent_id else None,
            limit_a=row.limit_a,
            limit_w=row.limit_w,
            limit_a_now=view.limit_a_now,
            limit_w_now=view.limit_w_now,
            limits_ahead=[CapacityLimit.from_row(x) for x in view.limits_ahead],
            limit_schedule=[
                LimitPeriod(start=p.start, end=p.end, limit_a=p.limit_a, limit_w=p.limit_w)
                for p in view.schedule
            ],
            allocated_a=view.allocated_a,
            measured_w=view.measured_w,
            charging_limits=[ChargingLimit.from_row(a) for a in view.allocations],
            child_ids=[node.global_id(CAPACITY_NODE, c.id) for c in view.children if c.id],
            priority=row.priority,
        )


@strawberry.type(description="An EVSE's new charging limit, as part of an allocation change.")
class AllocatedEvse:
    evse_id: relay.GlobalID
    session_id: relay.GlobalID | None
    limit_a: float


@strawberry.type(description="The scheduler sent new charging limits at a location.")
class AllocationChanged:
    location_id: relay.GlobalID
    changed_at: datetime
    evses: list[AllocatedEvse]

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> "AllocationChanged":
        return cls(
            location_id=node.global_id(node.LOCATION, int(payload["location_id"])),
            changed_at=datetime.fromisoformat(payload["changed_at"]),
            evses=[
                AllocatedEvse(
                    evse_id=node.global_id(node.EVSE, int(e["evse_id"])),
                    session_id=node.global_id(CHARGING_SESSION, int(e["session_id"]))
                    if e.get("session_id") is not None
                    else None,
                    limit_a=float(e["limit_a"]),
                )
                for e in payload["evses"]
            ],
        )


@strawberry.type
class CapacityLimitPayload:
    limit: CapacityLimit
    node: CapacityNode


@strawberry.type
class CapacityNodeNotFound:
    message: str


@strawberry.type
class InvalidCapacityLimit:
    message: str


@strawberry.type(description="An operator's change to the capacity tree.")
class CapacityNodePayload:
    node: CapacityNode


@strawberry.type(description="A capacity node was removed.")
class CapacityNodeDeleted:
    node_id: relay.GlobalID


@strawberry.type(description="The tree change was refused; the message names the bad value.")
class InvalidCapacityNode:
    message: str
