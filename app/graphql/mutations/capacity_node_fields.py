"""Shared by create/updateCapacityNode: decode the input's ids and check they are the caller's."""

from typing import Any

from app.domain.errors import InvalidInput, NotFound
from app.graphql.context import Info
from app.graphql.permissions import operator_scope
from app.graphql.types import capacity as types
from app.graphql.types import node
from app.services import capacity_tree, scoping

#: Input field -> (global id type, whether its key is an integer).
ID_FIELDS = {
    "parent_id": (types.CAPACITY_NODE, True),
    "location_id": (node.LOCATION, True),
    "station_id": (node.CHARGING_STATION, False),
    "evse_id": (node.EVSE, True),
}


def decode_ids(fields: dict[str, Any]) -> dict[str, Any]:
    """Replace global ids by table keys; a malformed or foreign id raises NotFound naming it."""
    out = dict(fields)
    for name, (type_name, integer) in ID_FIELDS.items():
        value = fields.get(name)
        if value is None:
            continue
        key: int | str | None
        if integer:
            key = node.decode_int(str(value), type_name)
        else:
            decoded = node.decode(str(value))
            key = decoded[1] if decoded is not None and decoded[0] == type_name else None
        if key is None:
            raise NotFound(type_name, str(value))
        out[name] = key
    return out


async def check_owned(info: Info, fields: dict[str, Any]) -> None:
    """Every object the change names (parent, location, station, EVSE) is the caller's."""
    factory = info.context.session_factory
    scope = operator_scope(info)
    if fields.get("parent_id") is not None:
        await scoping.check_capacity_node(
            session_factory=factory, scope=scope, node_id=fields["parent_id"]
        )
    if fields.get("location_id") is not None:
        await scoping.check_location(
            session_factory=factory, scope=scope, location_id=fields["location_id"]
        )
    station_id = fields.get("station_id")
    if fields.get("evse_id") is not None:
        station_id = await capacity_tree.station_of_evse(
            session_factory=factory, evse_id=fields["evse_id"]
        )
    if station_id is not None:
        await scoping.check_station(session_factory=factory, scope=scope, station_id=station_id)


def steps_text(steps: list[float] | None) -> str | None:
    """The stored form of accepted pilots (comma separated), checked."""
    if steps is None:
        return None
    if any(not a >= 0 for a in steps):
        raise InvalidInput(f"currentStepsA={steps}: expected amps >= 0")
    return ",".join(f"{a:g}" for a in sorted(set(steps))) or None
