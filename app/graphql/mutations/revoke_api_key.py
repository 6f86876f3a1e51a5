"""`revokeApiKey`: an organisation's admin revokes one of its partner API keys."""

from typing import Annotated

import strawberry

from app.domain.errors import NotFound
from app.graphql.context import Info
from app.graphql.permissions import IsOperatorAdmin, actor, operator_scope
from app.graphql.types.access import ApiKey, ApiKeyNotFound
from app.services import api_keys


@strawberry.type(description="The key as it is now (revoked).")
class RevokedApiKey:
    api_key: ApiKey


RevokeApiKeyResult = Annotated[
    RevokedApiKey | ApiKeyNotFound, strawberry.union("RevokeApiKeyResult")
]


async def revoke_api_key(info: Info, prefix: str) -> RevokeApiKeyResult:
    try:
        row = await api_keys.revoke_key(
            session_factory=info.context.session_factory,
            prefix=prefix,
            operator_id=operator_scope(info).operator_id,
            actor=actor(info),
        )
    except NotFound:
        return ApiKeyNotFound(message=f"no API key {prefix!r} in your organisation")
    return RevokedApiKey(api_key=ApiKey.from_row(row))


@strawberry.type
class RevokeApiKeyMutation:
    revoke_api_key: RevokeApiKeyResult = strawberry.mutation(
        resolver=revoke_api_key,
        description="Revoke a key by its prefix (`ck_...`); it stops working at once. "
        "Idempotent (organisation admins).",
        permission_classes=[IsOperatorAdmin],
    )
