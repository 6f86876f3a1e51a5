"""`logIn`: trade an email and password for a token pair."""

from datetime import timedelta
from typing import Annotated

import strawberry

from app.domain.errors import Unauthenticated
from app.graphql import fields
from app.graphql.context import Info
from app.graphql.types.auth import AuthPayload
from app.services import accounts


@strawberry.input
class LogInInput:
    email: str
    password: str


@strawberry.type(
    description="The email and password do not match an account (one message for either)."
)
class InvalidCredentials:
    message: str


LogInResult = Annotated[AuthPayload | InvalidCredentials, strawberry.union("LogInResult")]


@strawberry.type
class LogInMutation:
    @fields.field(description="Log in with email and password. Public.")
    async def log_in(self, info: Info, input: LogInInput) -> LogInResult:
        try:
            login = await accounts.log_in(
                session_factory=info.context.session_factory,
                email=input.email,
                password=input.password,
                refresh_ttl=timedelta(seconds=info.context.settings.auth_refresh_token_ttl_s),
            )
        except Unauthenticated as exc:
            return InvalidCredentials(message=str(exc))
        return AuthPayload.issue(info, login)
