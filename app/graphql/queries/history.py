"""History: `me.sessions` (the caller's sessions, newest first) and `receipt(sessionId)`."""

import base64
import binascii
from typing import Annotated

import strawberry
from strawberry import relay

from app.domain.errors import InvalidInput, NotFound
from app.graphql.context import Info
from app.graphql.permissions import IsDriver, current_driver_id
from app.graphql.types import node
from app.graphql.types.receipt import CHARGING_SESSION, Receipt
from app.graphql.types.session import ChargingSession
from app.services import receipts

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
_PREFIX = "session:"


@strawberry.type(description="A page of the driver's sessions, newest first.")
class ChargingSessionConnection(relay.Connection[ChargingSession]):
    pass


def _encode(value: str) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{value}".encode()).decode()


def _decode(cursor: str) -> str:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeError, ValueError):
        text = ""
    if not text.startswith(_PREFIX):
        raise InvalidInput(f"after {cursor!r} is not a cursor: expected an endCursor of `sessions`")
    return text.removeprefix(_PREFIX)


async def resolve_sessions(
    info: Info,
    first: Annotated[
        int | None,
        strawberry.argument(description=f"Page size, 1 to {MAX_PAGE_SIZE}; {DEFAULT_PAGE_SIZE}."),
    ] = None,
    after: str | None = None,
) -> ChargingSessionConnection:
    """The caller's sessions (active and finished), newest start first."""
    size = DEFAULT_PAGE_SIZE if first is None else first
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidInput(f"first must be from 1 to {MAX_PAGE_SIZE}, got {size}")
    page = await receipts.list_driver_sessions(
        session_factory=info.context.session_factory,
        driver_id=current_driver_id(info),
        first=size,
        after=_decode(after) if after is not None else None,
    )
    edges = [
        relay.Edge(cursor=_encode(receipts.session_cursor(row)), node=ChargingSession.from_row(row))
        for row, _ in page.sessions
    ]
    return ChargingSessionConnection(
        edges=edges,
        page_info=relay.PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


async def resolve_receipt(
    info: Info,
    session_id: Annotated[
        strawberry.ID, strawberry.argument(description="The ChargingSession's global id.")
    ],
) -> Receipt:
    key = node.decode_int(session_id, CHARGING_SESSION)
    if key is None:
        raise NotFound("receipt of session", session_id)
    cdr = await receipts.get_receipt(
        session_factory=info.context.session_factory,
        driver_id=current_driver_id(info),
        session_id=key,
    )
    return Receipt.from_row(cdr)


@strawberry.type
class HistoryQueries:
    # `resolver=` rather than a decorator: strawberry.field with arguments is untyped for mypy.
    receipt: Receipt = strawberry.field(
        resolver=resolve_receipt,
        description=(
            "The receipt of one of the caller's finished sessions; anyone else's, or one still "
            "running, is NotFound."
        ),
        permission_classes=[IsDriver],
    )
