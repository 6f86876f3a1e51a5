"""`alerts(filter, first, after)`: the network's alerts for operators, newest first."""

import strawberry
from strawberry import relay

from app.graphql.context import Info
from app.graphql.paging import IdCursor, PageSize, page_info, page_size
from app.graphql.permissions import IsOperator, operator_scope
from app.graphql.types.alert import Alert, AlertConnection, AlertFilter
from app.services import alerts

CURSOR = IdCursor(prefix="alert:", field="alerts")


async def resolve_alerts(
    info: Info,
    filter: AlertFilter | None = None,
    first: PageSize = None,
    after: str | None = None,
) -> AlertConnection:
    size = page_size(first)
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
        after=CURSOR.decode(after),
    )
    edges = [
        relay.Edge(cursor=CURSOR.encode(row.id or 0), node=Alert.from_row(row))  # type: ignore[type-var]
        for row in page.alerts
    ]
    return AlertConnection(
        edges=edges, page_info=page_info(edges, after=after, has_next_page=page.has_next_page)
    )


@strawberry.type
class AlertQueries:
    # `resolver=` rather than a decorator: strawberry.field with arguments is untyped for mypy.
    alerts: AlertConnection = strawberry.field(
        resolver=resolve_alerts,
        description="Alerts in the operator's network, newest first (operator API).",
        permission_classes=[IsOperator],
    )
