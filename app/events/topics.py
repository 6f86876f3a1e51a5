"""Topic names and event payload shapes. Each payload is a JSON-serialisable dict."""

from datetime import datetime
from typing import Any


def evse_status(location_id: int | None) -> str:
    """EVSE status changes of one location (stations without a location use `none`)."""
    return f"location.{location_id if location_id is not None else 'none'}.evse-status"


def station_status(station_id: str) -> str:
    """Connection and boot events of one station."""
    return f"station.{station_id}.status"


def session_updated(session_id: int) -> str:
    return f"session.{session_id}.updated"


def cluster_inbox(instance_id: str) -> str:
    """Requests, answers and takeover notices for one chargenet instance (several instances)."""
    return f"cluster.instance.{instance_id}"


CLUSTER_PRESENCE = "cluster.presence"
"""Which instance took or released which station's WebSocket (several instances)."""

ALL_EVSE_STATUS = "evse-status"
"""Every EVSE status change in the network (for the scheduler and the health monitor)."""

ALL_STATIONS = "stations"
"""Stations joining the network: a `StationAdded` payload (`station_added_event`) when one is
provisioned or registers on its first connection, so a whole-network view (stationUpdated
without locationIds) follows it from then on."""

ALL_SESSIONS = "sessions"
"""Every session start and end in the network (`SessionStarted` / `SessionEnded` payloads with
session_id, station_id, evse_id, at): the load-management scheduler allocates a new session at
once instead of waiting for its timer."""


def evse_status_event(
    *,
    location_id: int | None,
    station_id: str,
    evse_id: int,
    evse_uid: str,
    status: str,
    previous_status: str | None,
    error_code: str | None,
    changed_at: datetime,
) -> dict[str, Any]:
    return {
        "type": "EvseStatusChanged",
        "location_id": location_id,
        "station_id": station_id,
        "evse_id": evse_id,
        "evse_uid": evse_uid,
        "status": status,
        "previous_status": previous_status,
        "error_code": error_code,
        "changed_at": changed_at.isoformat(),
    }


def station_added_event(*, station_id: str, location_id: int | None) -> dict[str, Any]:
    return {"type": "StationAdded", "station_id": station_id, "location_id": location_id}
