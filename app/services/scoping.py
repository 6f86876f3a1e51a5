"""Does an object belong to the caller's organisation? One check per kind of object.

Every operator read or write by id goes through one of these before it touches the object: an
object of another organisation is reported as not found (NotFound), exactly like one that does
not exist, so ids of other tenants cannot be probed. Ownership follows Location.operator_id:
a station belongs to its location's operator, a session to its station's, a capacity node to
its location's. Objects with no location belong to no organisation: only an unscoped caller
(NETWORK, never an operator user) sees them.
"""

from typing import Any

from sqlmodel import col, select

from app.db.engine import SessionFactory
from app.db.models import CapacityNode, ChargingSession, ChargingStation, Location
from app.domain.errors import NotFound
from app.services.alerts import OperatorScope

MAX_TREE_DEPTH = 32
"""Bound on walking up a capacity tree (grid → site → circuit → station → EVSE is five)."""


async def _owner(session_factory: SessionFactory, statement: Any) -> tuple[bool, int | None]:
    """(found, operator id) of a select of one Location.operator_id."""
    async with session_factory() as db:
        row = (await db.exec(statement)).first()
    return (False, None) if row is None else (True, row)


def _check(found: bool, owner: int | None, scope: OperatorScope, kind: str, key: object) -> None:
    if not found or (scope.operator_id is not None and owner != scope.operator_id):
        raise NotFound(kind, key)


async def check_location(
    *, session_factory: SessionFactory, scope: OperatorScope, location_id: int
) -> None:
    statement = select(Location.operator_id).where(Location.id == location_id)
    found, owner = await _owner(session_factory, statement)
    _check(found, owner, scope, "Location", location_id)


async def check_station(
    *, session_factory: SessionFactory, scope: OperatorScope, station_id: str
) -> None:
    statement = (
        select(Location.operator_id)
        .select_from(ChargingStation)
        .outerjoin(Location, col(Location.id) == col(ChargingStation.location_id))
        .where(ChargingStation.id == station_id)
    )
    found, owner = await _owner(session_factory, statement)
    _check(found, owner, scope, "ChargingStation", station_id)


async def check_session(
    *, session_factory: SessionFactory, scope: OperatorScope, session_id: int
) -> None:
    statement = (
        select(Location.operator_id)
        .select_from(ChargingSession)
        .join(ChargingStation, col(ChargingStation.id) == col(ChargingSession.station_id))
        .outerjoin(Location, col(Location.id) == col(ChargingStation.location_id))
        .where(ChargingSession.id == session_id)
    )
    found, owner = await _owner(session_factory, statement)
    _check(found, owner, scope, "ChargingSession", session_id)


async def check_capacity_node(
    *, session_factory: SessionFactory, scope: OperatorScope, node_id: int
) -> None:
    """A node belongs to the operator of the first location found walking up its tree (only
    a tree's top nodes need a location)."""
    owner: int | None = None
    async with session_factory() as db:
        node = await db.get(CapacityNode, node_id)
        found = node is not None
        for _ in range(MAX_TREE_DEPTH):
            if node is None:
                break
            if node.location_id is not None:
                location = await db.get(Location, node.location_id)
                owner = location.operator_id if location is not None else None
                break
            node = await db.get(CapacityNode, node.parent_id) if node.parent_id else None
    _check(found, owner, scope, "CapacityNode", node_id)
