"""Access tokens: issued, verified, and refused when expired, forged or malformed."""

from datetime import UTC, datetime, timedelta

import jwt
import pytest
from pydantic import SecretStr

from app.domain.errors import Unauthenticated
from app.services.auth import Principal, PrincipalKind, TokenService
from app.settings import Settings

DRIVER_1 = Principal(PrincipalKind.DRIVER, 1)


def service(secret: str = "k" * 32, **overrides: object) -> TokenService:
    settings = Settings(_env_file=None, auth_jwt_secret=SecretStr(secret), **overrides)  # type: ignore[call-arg,arg-type]
    return TokenService(settings)


def test_a_token_names_the_principal_it_was_issued_for() -> None:
    tokens = service()
    token, expires = tokens.issue(Principal(PrincipalKind.DRIVER, 42))
    assert tokens.verify(token) == Principal(PrincipalKind.DRIVER, 42)
    assert tokens.verify(token).driver_id == 42
    assert expires - datetime.now(UTC) <= timedelta(seconds=900)


def test_an_expired_token_is_refused_with_a_hint_to_refresh() -> None:
    tokens = service()
    token, _ = tokens.issue(
        Principal(PrincipalKind.DRIVER, 1), now=datetime.now(UTC) - timedelta(hours=1)
    )
    with pytest.raises(Unauthenticated, match="expired"):
        tokens.verify(token)


@pytest.mark.parametrize(
    "forge",
    [
        lambda: service("another-key-" * 3).issue(Principal(PrincipalKind.DRIVER, 1))[0],
        lambda: service(auth_jwt_issuer="someone-else").issue(Principal(PrincipalKind.DRIVER, 1))[
            0
        ],
        lambda: jwt.encode({"sub": "driver:1"}, "k" * 32, algorithm="HS256"),
        lambda: jwt.encode(
            {"sub": "driver:1", "iss": "chargenet", "iat": 0, "exp": 4_000_000_000},
            "",
            algorithm="none",
        ),
        lambda: "not-a-jwt",
    ],
    ids=["other-key", "other-issuer", "no-expiry", "alg-none", "garbage"],
)
def test_forged_or_malformed_tokens_are_refused(forge: object) -> None:
    token = forge()  # type: ignore[operator]
    with pytest.raises(Unauthenticated):
        service().verify(token)


@pytest.mark.parametrize(
    "header", ["Basic abc", "Bearer", "Bearer ", "token"], ids=["basic", "empty", "blank", "bare"]
)
def test_a_malformed_authorization_header_is_refused(header: str) -> None:
    with pytest.raises(Unauthenticated, match="Bearer"):
        service().from_authorization_header(header)


def test_no_authorization_header_means_anonymous() -> None:
    assert service().from_authorization_header(None) is None
    assert service().from_authorization_header("") is None


def test_without_a_configured_secret_each_process_has_its_own_key() -> None:
    first = TokenService(Settings(_env_file=None))  # type: ignore[call-arg]
    second = TokenService(Settings(_env_file=None))  # type: ignore[call-arg]
    token, _ = first.issue(Principal(PrincipalKind.DRIVER, 7))
    assert first.verify(token).driver_id == 7
    with pytest.raises(Unauthenticated):
        second.verify(token)
