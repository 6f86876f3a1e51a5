"""What signUp, logIn and refreshTokens return: a token pair and the driver."""

from datetime import datetime

import strawberry

from app.graphql.context import Info
from app.graphql.types.driver import Driver
from app.services.accounts import Login
from app.services.auth import Principal, PrincipalKind


@strawberry.type(
    description=(
        "A login: send `accessToken` as `Authorization: Bearer <accessToken>`; before it "
        "expires, trade `refreshToken` for a new pair with refreshTokens (each one works once)."
    )
)
class AuthPayload:
    access_token: str
    access_token_expires_at: datetime
    refresh_token: str
    refresh_token_expires_at: datetime
    driver: Driver

    @classmethod
    def issue(cls, info: Info, login: Login) -> "AuthPayload":
        """A payload for `login` with a fresh access token."""
        assert login.driver.id is not None
        principal = Principal(PrincipalKind.DRIVER, login.driver.id)
        access_token, expires_at = info.context.tokens.issue(principal)
        return cls(
            access_token=access_token,
            access_token_expires_at=expires_at,
            refresh_token=login.refresh_token,
            refresh_token_expires_at=login.refresh_expires_at,
            driver=Driver.from_row(login.driver),
        )
