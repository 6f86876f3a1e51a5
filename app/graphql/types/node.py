"""Relay global IDs: opaque base64 of "Type:key"; anything malformed decodes to None."""

from strawberry import relay

LOCATION = "Location"
EVSE = "Evse"
CHARGING_STATION = "ChargingStation"


def global_id(type_name: str, key: int | str) -> relay.GlobalID:
    return relay.GlobalID(type_name, str(key))


def decode(value: str) -> tuple[str, str] | None:
    """(type name, key) of a global id, or None when `value` is not one."""
    try:
        gid = relay.GlobalID.from_id(value)
    except (relay.GlobalIDValueError, ValueError, TypeError):
        return None
    return gid.type_name, gid.node_id


def decode_int(value: str, type_name: str) -> int | None:
    """The integer key of a global id of `type_name`, or None for any other value."""
    decoded = decode(value)
    if decoded is None or decoded[0] != type_name:
        return None
    try:
        return int(decoded[1])
    except ValueError:
        return None
