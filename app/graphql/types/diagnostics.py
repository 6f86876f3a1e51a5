"""A station's logged OCPP frames as the operator API shows them."""

from datetime import datetime

import strawberry

from app.db.models import OcppMessageLog
from app.domain.enums import MessageDirection, MessageKind
from app.services.diagnostics import MessagePage

strawberry.enum(MessageDirection, description="INBOUND: from the station; OUTBOUND: to it.")
strawberry.enum(MessageKind, description="OCPP-J message type.")


@strawberry.type(description="One OCPP frame as it went over the wire.")
class OcppMessage:
    id: int = strawberry.field(description="Increasing; pass as `before` for the next page.")
    at: datetime
    direction: MessageDirection
    kind: MessageKind
    unique_id: str | None
    action: str | None
    error_code: str | None
    payload: str = strawberry.field(description="The raw frame text.")

    @classmethod
    def from_row(cls, row: OcppMessageLog) -> "OcppMessage":
        assert row.id is not None
        return cls(
            id=row.id, at=row.created_at, direction=row.direction, kind=row.kind,
            unique_id=row.unique_id, action=row.action, error_code=row.error_code,
            payload=row.payload,
        )  # fmt: skip


@strawberry.type(description="A page of a station's messages, newest first.")
class OcppMessagePage:
    messages: list[OcppMessage]
    has_next_page: bool

    @classmethod
    def from_service(cls, page: MessagePage) -> "OcppMessagePage":
        return cls(
            messages=[OcppMessage.from_row(row) for row in page.messages],
            has_next_page=page.has_next_page,
        )
