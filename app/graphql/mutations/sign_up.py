"""`signUp`: create a driver account (with its app ID token) and log it in."""

from datetime import timedelta
from typing import Annotated

import strawberry

from app.domain.errors import Conflict, InvalidInput
from app.graphql import fields
from app.graphql.context import Info
from app.graphql.types.auth import AuthPayload
from app.services import accounts


@strawberry.input(description="A new driver account.")
class SignUpInput:
    email: str = strawberry.field(description="Trimmed and lower-cased; one account per email.")
    password: str = strawberry.field(
        description="At least 10 characters, not all the same character."
    )
    name: str = strawberry.field(description="Up to 100 characters.")


@strawberry.type(description="The email already has an account: log in instead.")
class EmailTaken:
    message: str


@strawberry.type(description="A value of the input is malformed: `message` names it.")
class InvalidSignUp:
    message: str


SignUpResult = Annotated[AuthPayload | EmailTaken | InvalidSignUp, strawberry.union("SignUpResult")]


@strawberry.type
class SignUpMutation:
    @fields.field(description="Create a driver account and log in. Public.")
    async def sign_up(self, info: Info, input: SignUpInput) -> SignUpResult:
        try:
            login = await accounts.sign_up(
                session_factory=info.context.session_factory,
                email=input.email,
                password=input.password,
                name=input.name,
                refresh_ttl=timedelta(seconds=info.context.settings.auth_refresh_token_ttl_s),
            )
        except InvalidInput as exc:
            return InvalidSignUp(message=str(exc))
        except Conflict as exc:
            return EmailTaken(message=str(exc))
        return AuthPayload.issue(info, login)
