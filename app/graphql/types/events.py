"""Events streamed by subscriptions."""

from datetime import datetime
from typing import Any

import strawberry
from strawberry import relay

from app.graphql.types import node
from app.graphql.types.enums import EvseStatus


@strawberry.type(description="An EVSE changed status.")
class EvseStatusChanged:
    location_id: relay.GlobalID = strawberry.field(description="Global id of the Location.")
    evse_id: relay.GlobalID = strawberry.field(description="Global id of the Evse.")
    evse_uid: str
    station_identity: str
    status: EvseStatus
    previous_status: EvseStatus | None
    error_code: str | None
    changed_at: datetime

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> "EvseStatusChanged":
        """Map a `topics.evse_status_event` payload; KeyError/ValueError when malformed."""
        previous = payload.get("previous_status")
        return cls(
            location_id=node.global_id(node.LOCATION, int(payload["location_id"])),
            evse_id=node.global_id(node.EVSE, int(payload["evse_id"])),
            evse_uid=str(payload["evse_uid"]),
            station_identity=str(payload["station_id"]),
            status=EvseStatus(payload["status"]),
            previous_status=EvseStatus(previous) if previous is not None else None,
            error_code=payload.get("error_code"),
            changed_at=datetime.fromisoformat(payload["changed_at"]),
        )
