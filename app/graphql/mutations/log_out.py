"""`logOut`: end a login by revoking its refresh tokens."""

import strawberry

from app.graphql import fields
from app.graphql.context import Info
from app.services import accounts


@strawberry.input
class LogOutInput:
    refresh_token: str


@strawberry.type
class LogOutPayload:
    revoked: bool = strawberry.field(
        description="True when this call ended the login; false when it had already ended."
    )


@strawberry.type
class LogOutMutation:
    @fields.field(
        description=(
            "Revoke the login of this refresh token (idempotent). Public: the refresh token is "
            "the credential, so an app can log out with an expired access token. Access tokens "
            "already issued stay valid until they expire (minutes)."
        )
    )
    async def log_out(self, info: Info, input: LogOutInput) -> LogOutPayload:
        revoked = await accounts.log_out(
            session_factory=info.context.session_factory, refresh_token=input.refresh_token
        )
        return LogOutPayload(revoked=revoked)
