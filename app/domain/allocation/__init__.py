"""Load management: share constrained capacity between charging sessions (pure, stdlib only)."""

from app.domain.allocation.allocator import allocate
from app.domain.allocation.fleet import FleetAllocator
from app.domain.allocation.model import MIN_PILOT_A, Constraint, EvseSpec, SessionDemand
from app.domain.allocation.network import (
    Network,
    compile_network,
    constraint_currents,
    violated,
)

__all__ = [
    "MIN_PILOT_A",
    "Constraint",
    "EvseSpec",
    "FleetAllocator",
    "Network",
    "SessionDemand",
    "allocate",
    "compile_network",
    "constraint_currents",
    "violated",
]
