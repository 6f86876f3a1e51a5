"""Load management: the electrical capacity tree of a site, its time-varying limits, allocations."""

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db.models import base as _base  # noqa: F401  (naming convention first)
from app.db.types import enum_column, utc_column, utcnow


class CapacityNodeKind(StrEnum):
    GRID = "GRID"  # the grid connection (meter, main fuse)
    SITE = "SITE"
    CIRCUIT = "CIRCUIT"  # a circuit or feeder
    STATION = "STATION"
    EVSE = "EVSE"


class PhaseWiring(StrEnum):
    """The site lines an EVSE draws on: one line to neutral, two lines, or all three."""

    L1 = "L1"
    L2 = "L2"
    L3 = "L3"
    L1L2 = "L1L2"
    L2L3 = "L2L3"
    L3L1 = "L3L1"
    L1L2L3 = "L1L2L3"


class PhaseRotation(StrEnum):
    """OCPP PhaseRotation: which site lines (R, S, T = L1, L2, L3) the EVSE's L1, L2, L3 are."""

    RST = "RST"
    RTS = "RTS"
    SRT = "SRT"
    STR = "STR"
    TRS = "TRS"
    TSR = "TSR"


class LimitSource(StrEnum):
    OPERATOR = "OPERATOR"
    OPENADR = "OPENADR"


class CapacityNode(SQLModel, table=True):
    """One node of a site's electrical tree: grid connection → site → circuit → station → EVSE.

    A node's limits bind everything below it: `limit_a` in amps on each line, `limit_w` in watts
    over all lines; either may be unset. `base_load_a`/`base_load_w` is non-EV load on the node
    (lighting, a building) taken off its limits. EVSE nodes carry the wiring and pilot range of
    the EVSE they control (`evse_id`).
    """

    __tablename__ = "capacity_node"

    id: int | None = Field(default=None, primary_key=True)
    location_id: int | None = Field(default=None, foreign_key="location.id", index=True)
    parent_id: int | None = Field(default=None, foreign_key="capacity_node.id", index=True)
    kind: CapacityNodeKind = Field(sa_column=enum_column(CapacityNodeKind))
    name: str = Field(max_length=100)
    limit_a: float | None = Field(default=None, ge=0, description="A per line")
    limit_w: int | None = Field(default=None, ge=0, description="W over all lines")
    base_load_a: float = Field(default=0.0, ge=0)
    base_load_w: int = Field(default=0, ge=0)
    station_id: str | None = Field(
        default=None, foreign_key="charging_station.id", index=True, max_length=48
    )
    evse_id: int | None = Field(default=None, foreign_key="evse.id", unique=True)
    phases: PhaseWiring = Field(default=PhaseWiring.L1L2L3, sa_column=enum_column(PhaseWiring))
    phase_rotation: PhaseRotation = Field(
        default=PhaseRotation.RST, sa_column=enum_column(PhaseRotation)
    )
    min_current_a: float = Field(default=6.0, ge=0)
    max_current_a: float = Field(default=32.0, ge=0)
    current_steps_a: str | None = Field(
        default=None, max_length=255, description="accepted pilots, comma separated; none = any"
    )
    priority: int = Field(
        default=0, description="EVSE nodes: its sessions are served before lower priorities"
    )
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class CapacityLimit(SQLModel, table=True):
    """A limit on a node for a time window (demand response); the lowest one in force binds."""

    __tablename__ = "capacity_limit"
    __table_args__ = (sa.Index("ix_capacity_limit_node_window", "node_id", "valid_to"),)

    id: int | None = Field(default=None, primary_key=True)
    node_id: int = Field(foreign_key="capacity_node.id")
    limit_a: float | None = Field(default=None, ge=0)
    limit_w: int | None = Field(default=None, ge=0)
    valid_from: datetime = Field(sa_column=utc_column(nullable=False))
    valid_to: datetime = Field(sa_column=utc_column(nullable=False))
    source: LimitSource = Field(default=LimitSource.OPERATOR, sa_column=enum_column(LimitSource))
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class EvseAllocation(SQLModel, table=True):
    """The limit the scheduler last decided for an EVSE, and whether the station took it."""

    __tablename__ = "evse_allocation"

    evse_id: int = Field(foreign_key="evse.id", primary_key=True)
    session_id: int | None = Field(default=None, foreign_key="charging_session.id", index=True)
    limit_a: float = Field(ge=0)
    reason: str = Field(max_length=64)
    status: str = Field(max_length=16, description="ACCEPTED, REJECTED, FAILED, OFFLINE, ...")
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
