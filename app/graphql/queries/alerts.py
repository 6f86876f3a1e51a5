"""`alerts(filter, first, after)`: the network's alerts for operators, newest first."""

import base64
import binascii
from typing import Annotated

import strawberry
from strawberry import relay

from app.domain.errors import InvalidInput
from app.graphql.context import Info
from app.graphql.permissions import IsOperator, operator_scope
from app.graphql.types.alert import Alert, AlertConnection, AlertFilter
from app.services import alerts

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
_PREFIX = "alert:"


def _encode(alert_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{alert_id}".encode()).decode()


def _decode(cursor: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(cursor.encode()).decode().removeprefix(_PREFIX))
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidInput(
            f"after {cursor!r} is not a cursor: expected an endCursor of `alerts`"
        ) from None


async def resolve_alerts(
    info: Info,
    filter: AlertFilter | None = None,
    first: Annotated[
        int | None,
        strawberry.argument(description=f"Page size, 1 to {MAX_PAGE_SIZE}; {DEFAULT_PAGE_SIZE}."),
    ] = None,
    after: str | None = None,
) -> AlertConnection:
    size = DEFAULT_PAGE_SIZE if first is None else first
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidInput(f"first must be from 1 to {MAX_PAGE_SIZE}, got {size}")
    wanted = filter or AlertFilter()
    page = await alerts.list_alerts(
        session_factory=info.context.session_factory,
        scope=operator_scope(info),
        filter=alerts.AlertFilter(
            states=tuple(wanted.states or ()),
            severities=tuple(wanted.severities or ()),
            station_ids=tuple(wanted.station_identities or ()),
            codes=tuple(wanted.codes or ()),
        ),
        first=size,
        after=_decode(after) if after is not None else None,
    )
    edges = [
        relay.Edge(cursor=_encode(row.id or 0), node=Alert.from_row(row))  # type: ignore[type-var]
        for row in page.alerts
    ]
    return AlertConnection(
        edges=edges,
        page_info=relay.PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
    )


@strawberry.type
class AlertQueries:
    # `resolver=` rather than a decorator: strawberry.field with arguments is untyped for mypy.
    alerts: AlertConnection = strawberry.field(
        resolver=resolve_alerts,
        description="Alerts in the operator's network, newest first (operator API).",
        permission_classes=[IsOperator],
    )
