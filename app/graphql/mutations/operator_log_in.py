"""`operatorLogIn`: an operator user trades email and password for an access token."""

from typing import Annotated

import strawberry

from app.domain.errors import Unauthenticated
from app.graphql import fields
from app.graphql.context import Info
from app.graphql.mutations.log_in import InvalidCredentials, LogInInput
from app.graphql.types.access import OperatorAuthPayload, OperatorUser
from app.services import operators

OperatorLogInResult = Annotated[
    OperatorAuthPayload | InvalidCredentials, strawberry.union("OperatorLogInResult")
]


@strawberry.type
class OperatorLogInMutation:
    @fields.field(
        description="Log in as an operator user; the token names your organisation and role. "
        "Public."
    )
    async def operator_log_in(self, info: Info, input: LogInInput) -> OperatorLogInResult:
        try:
            user = await operators.log_in(
                session_factory=info.context.session_factory,
                email=input.email,
                password=input.password,
            )
        except Unauthenticated as exc:
            return InvalidCredentials(message=str(exc))
        token, expires = info.context.tokens.issue(operators.principal_of(user))
        return OperatorAuthPayload(
            access_token=token,
            access_token_expires_at=expires,
            user=OperatorUser.from_row(user),
        )
