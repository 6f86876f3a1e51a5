"""`auditLog(filter, first, after)` and `apiKeys`: what an organisation's admins review."""

import strawberry
from strawberry import relay

from app.graphql.context import Info
from app.graphql.paging import IdCursor, PageSize, page_info, page_size
from app.graphql.permissions import IsOperatorAdmin, operator_scope
from app.graphql.types.access import ApiKey, AuditFilter, AuditRecord, AuditRecordConnection
from app.services import api_keys, audit

CURSOR = IdCursor(prefix="audit:", field="auditLog")


async def resolve_audit_log(
    info: Info,
    filter: AuditFilter | None = None,
    first: PageSize = None,
    after: str | None = None,
) -> AuditRecordConnection:
    size = page_size(first)
    wanted = filter or AuditFilter()
    page = await audit.list_records(
        session_factory=info.context.session_factory,
        scope=operator_scope(info),
        filter=audit.AuditFilter(
            actions=tuple(wanted.actions or ()),
            actor=wanted.actor,
            since=wanted.since,
            until=wanted.until,
        ),
        first=size,
        before_id=CURSOR.decode(after),
    )
    edges = [
        relay.Edge(cursor=CURSOR.encode(row.id or 0), node=AuditRecord.from_row(row))  # type: ignore[type-var]
        for row in page.records
    ]
    return AuditRecordConnection(
        edges=edges, page_info=page_info(edges, after=after, has_next_page=page.has_next_page)
    )


async def resolve_api_keys(info: Info) -> list[ApiKey]:
    rows = await api_keys.list_keys(
        session_factory=info.context.session_factory, operator_id=operator_scope(info).operator_id
    )
    return [ApiKey.from_row(row) for row in rows]


@strawberry.type
class AuditQueries:
    audit_log: AuditRecordConnection = strawberry.field(
        resolver=resolve_audit_log,
        description="Your organisation's operator and partner actions, newest first "
        "(organisation admins).",
        permission_classes=[IsOperatorAdmin],
    )
    api_keys: list[ApiKey] = strawberry.field(
        resolver=resolve_api_keys,
        description="Your organisation's partner API keys, newest first; never their secrets "
        "(organisation admins).",
        permission_classes=[IsOperatorAdmin],
    )
