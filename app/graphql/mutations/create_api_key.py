"""`createApiKey`: an organisation's admin makes a partner API key (shown once)."""

from typing import Annotated

import strawberry

from app.domain.errors import InvalidInput
from app.graphql.context import Info
from app.graphql.permissions import IsOperatorAdmin, actor, operator_scope
from app.graphql.types.access import ApiKey, CreatedApiKey, InvalidApiKeyInput
from app.services import api_keys


@strawberry.input
class CreateApiKeyInput:
    partner: str = strawberry.field(description="Who holds the key (1 to 100 characters).")
    scopes: list[str] = strawberry.field(description="e.g. locations:read, network:read.")
    name: str = ""


CreateApiKeyResult = Annotated[
    CreatedApiKey | InvalidApiKeyInput, strawberry.union("CreateApiKeyResult")
]


async def create_api_key(info: Info, input: CreateApiKeyInput) -> CreateApiKeyResult:
    try:
        created = await api_keys.create_key(
            session_factory=info.context.session_factory,
            name=input.name,
            partner=input.partner,
            scopes=input.scopes,
            operator_id=operator_scope(info).operator_id,
            actor=actor(info),
        )
    except InvalidInput as exc:
        return InvalidApiKeyInput(message=str(exc))
    return CreatedApiKey(key=created.key, api_key=ApiKey.from_row(created.row))


@strawberry.type
class CreateApiKeyMutation:
    create_api_key: CreateApiKeyResult = strawberry.mutation(
        resolver=create_api_key,
        description="A partner API key owned by your organisation; `key` is shown only here "
        "(organisation admins).",
        permission_classes=[IsOperatorAdmin],
    )
