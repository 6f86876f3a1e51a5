"""Who is calling: principals (drivers, operator users, partner API keys) and access tokens.

Access tokens are short-lived HS256 JWTs this process signs. Operator users' tokens also carry
their organisation and role (`org`, `role`): a role change or a disabled account takes effect
when the token expires (AUTH_ACCESS_TOKEN_TTL_S). `Authenticator` turns a request's credentials
(a bearer token, an external identity provider's JWT, or an API key) into a `Principal`.
"""

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import jwt

from app.domain.access import OperatorRole
from app.domain.errors import Unauthenticated
from app.settings import Settings

log = logging.getLogger(__name__)

_ALGORITHM = "HS256"
API_KEY_PREFIX = "ck_"


class PrincipalKind(StrEnum):
    DRIVER = "driver"
    OPERATOR_USER = "operator-user"
    API_KEY = "api-key"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a request or subscription.

    `subject_id` is the row id of the driver, operator user or API key. Operator users from an
    external identity provider have no row: `subject_id` is 0 and `external_subject` holds the
    provider's `sub`. `operator_id` is the organisation of an operator user (or of an API key
    an organisation created); `scopes` are an API key's.
    """

    kind: PrincipalKind
    subject_id: int
    operator_id: int | None = None
    role: OperatorRole | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    external_subject: str | None = None

    @property
    def driver_id(self) -> int | None:
        return self.subject_id if self.kind is PrincipalKind.DRIVER else None

    @property
    def actor(self) -> str:
        """How audit records name this caller: `operator-user:7`, `api-key:3`, `driver:12`,
        `operator-user:idp:<sub>` for an externally authenticated operator."""
        if self.external_subject is not None:
            return f"{self.kind.value}:idp:{self.external_subject}"
        return f"{self.kind.value}:{self.subject_id}"


def operator_principal(*, subject_id: int, operator_id: object, role: object) -> Principal:
    """An operator user's principal from claims; `Unauthenticated` when they are malformed."""
    try:
        org = int(str(operator_id))
        return Principal(
            PrincipalKind.OPERATOR_USER, subject_id, operator_id=org, role=OperatorRole(str(role))
        )
    except ValueError:
        raise Unauthenticated("the access token names no organisation or role") from None


class TokenService:
    """Issues and verifies access tokens with one key for the whole process."""

    def __init__(self, settings: Settings) -> None:
        if settings.auth_jwt_secret is None:
            log.warning(
                "AUTH_JWT_SECRET is not set: using a random key, so access tokens stop working "
                "when this process restarts and are not accepted by other instances"
            )
            self._key = secrets.token_bytes(32)
        else:
            self._key = settings.auth_jwt_secret.get_secret_value().encode()
        self.issuer = settings.auth_jwt_issuer
        self.access_ttl = timedelta(seconds=settings.auth_access_token_ttl_s)

    def issue(self, principal: Principal, *, now: datetime | None = None) -> tuple[str, datetime]:
        """A signed access token for `principal` and the moment it expires."""
        if principal.kind is PrincipalKind.API_KEY or principal.external_subject is not None:
            raise ValueError(f"no access tokens for {principal.actor}: it brings its own")
        now = now or datetime.now(UTC)
        expires = now + self.access_ttl
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": f"{principal.kind.value}:{principal.subject_id}",
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": secrets.token_hex(8),
        }
        if principal.kind is PrincipalKind.OPERATOR_USER:
            assert principal.role is not None
            claims |= {"org": principal.operator_id, "role": principal.role.value}
        return jwt.encode(claims, self._key, algorithm=_ALGORITHM), expires

    def verify(self, token: str) -> Principal:
        """The principal a valid, unexpired token names; `Unauthenticated` otherwise."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[_ALGORITHM],
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the access token has expired: refresh it") from None
        except jwt.InvalidTokenError:
            raise Unauthenticated("the access token is not valid") from None
        kind_name, _, subject = str(claims["sub"]).partition(":")
        try:
            kind, subject_id = PrincipalKind(kind_name), int(subject)
        except ValueError:
            raise Unauthenticated("the access token names no known principal") from None
        if kind is PrincipalKind.DRIVER:
            return Principal(kind, subject_id)
        if kind is PrincipalKind.OPERATOR_USER:
            return operator_principal(
                subject_id=subject_id, operator_id=claims.get("org"), role=claims.get("role")
            )
        raise Unauthenticated("the access token names no known principal")

    def from_authorization_header(self, value: str | None) -> Principal | None:
        """None without a header; the principal for `Bearer <token>`; `Unauthenticated` else."""
        token = bearer_token(value)
        return None if token is None else self.verify(token)


def bearer_token(value: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` value; None without one."""
    if not value:
        return None
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <access token>'")
    return token.strip()


KeyVerifier = Callable[[str], Awaitable[Principal]]
"""Checks a partner API key (`ck_...`) and returns its principal (services.api_keys)."""
ExternalVerifier = Callable[[str], Awaitable[Principal]]
"""Checks an external identity provider's JWT (services.operator_idp)."""


class Authenticator:
    """A request's credentials → its principal. Bearer tokens starting `ck_` and `X-Api-Key`
    are partner API keys; a JWT whose issuer is the external identity provider's goes to it;
    any other bearer token must be one of ours."""

    def __init__(
        self,
        tokens: TokenService,
        *,
        api_keys: KeyVerifier,
        external: ExternalVerifier | None = None,
        external_issuer: str | None = None,
    ) -> None:
        self.tokens = tokens
        self._api_keys = api_keys
        self._external = external
        self._external_issuer = external_issuer

    async def authenticate(
        self, authorization: str | None, api_key: str | None = None
    ) -> Principal | None:
        token = bearer_token(authorization)
        if token is not None and api_key:
            raise Unauthenticated("send either an Authorization header or X-Api-Key, not both")
        if api_key:
            return await self._api_keys(api_key.strip())
        if token is None:
            return None
        if token.startswith(API_KEY_PREFIX):
            return await self._api_keys(token)
        if self._external is not None and self._issued_externally(token):
            return await self._external(token)
        return self.tokens.verify(token)

    def _issued_externally(self, token: str) -> bool:
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.InvalidTokenError:
            return False
        return claims.get("iss") == self._external_issuer != self.tokens.issuer
