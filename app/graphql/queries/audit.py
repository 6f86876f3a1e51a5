"""`auditLog(filter, first, after)` and `apiKeys`: what an organisation's admins review."""

import base64
import binascii
from typing import Annotated

import strawberry
from strawberry import relay

from app.domain.errors import InvalidInput
from app.graphql.context import Info
from app.graphql.permissions import IsOperatorAdmin, operator_scope
from app.graphql.types.access import ApiKey, AuditFilter, AuditRecord, AuditRecordConnection
from app.services import api_keys, audit

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
_PREFIX = "audit:"


def _encode(record_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{record_id}".encode()).decode()


def _decode(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if not text.startswith(_PREFIX):
            raise ValueError(text)
        return int(text.removeprefix(_PREFIX))
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidInput(
            f"after {cursor!r} is not a cursor: expected an endCursor of `auditLog`"
        ) from None


async def resolve_audit_log(
    info: Info,
    filter: AuditFilter | None = None,
    first: Annotated[
        int | None,
        strawberry.argument(description=f"Page size, 1 to {MAX_PAGE_SIZE}; {DEFAULT_PAGE_SIZE}."),
    ] = None,
    after: str | None = None,
) -> AuditRecordConnection:
    size = DEFAULT_PAGE_SIZE if first is None else first
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise InvalidInput(f"first must be from 1 to {MAX_PAGE_SIZE}, got {size}")
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
        before_id=_decode(after) if after is not None else None,
    )
    edges = [
        relay.Edge(cursor=_encode(row.id or 0), node=AuditRecord.from_row(row))  # type: ignore[type-var]
        for row in page.records
    ]
    return AuditRecordConnection(
        edges=edges,
        page_info=relay.PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
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
