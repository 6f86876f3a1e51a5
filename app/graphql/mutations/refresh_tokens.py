"""`refreshTokens`: rotate a refresh token into a new token pair."""

from datetime import timedelta
from typing import Annotated

import strawberry

from app.domain.errors import Unauthenticated
from app.graphql import fields
from app.graphql.context import Info
from app.graphql.types.auth import AuthPayload
from app.services import accounts


@strawberry.input
class RefreshTokensInput:
    refresh_token: str


@strawberry.type(
    description=(
        "The refresh token is unknown, expired, revoked or was already used (which ends its "
        "login everywhere): log in again."
    )
)
class InvalidRefreshToken:
    message: str


RefreshTokensResult = Annotated[
    AuthPayload | InvalidRefreshToken, strawberry.union("RefreshTokensResult")
]


@strawberry.type
class RefreshTokensMutation:
    @fields.field(
        description="A new access and refresh token; the refresh token given stops working. Public."
    )
    async def refresh_tokens(self, info: Info, input: RefreshTokensInput) -> RefreshTokensResult:
        try:
            login = await accounts.refresh(
                session_factory=info.context.session_factory,
                refresh_token=input.refresh_token,
                refresh_ttl=timedelta(seconds=info.context.settings.auth_refresh_token_ttl_s),
            )
        except Unauthenticated as exc:
            return InvalidRefreshToken(message=str(exc))
        return AuthPayload.issue(info, login)
