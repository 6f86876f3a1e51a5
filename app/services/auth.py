"""Access tokens: who is calling. Short-lived signed JWTs (HS256) naming a principal."""

import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import jwt

from app.domain.errors import Unauthenticated
from app.settings import Settings

log = logging.getLogger(__name__)

_ALGORITHM = "HS256"


class PrincipalKind(StrEnum):
    DRIVER = "driver"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of a request or subscription."""

    kind: PrincipalKind
    subject_id: int

    @property
    def driver_id(self) -> int | None:
        return self.subject_id if self.kind is PrincipalKind.DRIVER else None


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
        self._issuer = settings.auth_jwt_issuer
        self.access_ttl = timedelta(seconds=settings.auth_access_token_ttl_s)

    def issue(self, principal: Principal, *, now: datetime | None = None) -> tuple[str, datetime]:
        """A signed access token for `principal` and the moment it expires."""
        now = now or datetime.now(UTC)
        expires = now + self.access_ttl
        claims = {
            "iss": self._issuer,
            "sub": f"{principal.kind.value}:{principal.subject_id}",
            "iat": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": secrets.token_hex(8),
        }
        return jwt.encode(claims, self._key, algorithm=_ALGORITHM), expires

    def verify(self, token: str) -> Principal:
        """The principal a valid, unexpired token names; `Unauthenticated` otherwise."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[_ALGORITHM],
                issuer=self._issuer,
                options={"require": ["exp", "iat", "sub", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the access token has expired: refresh it") from None
        except jwt.InvalidTokenError:
            raise Unauthenticated("the access token is not valid") from None
        kind, _, subject = str(claims["sub"]).partition(":")
        try:
            return Principal(PrincipalKind(kind), int(subject))
        except ValueError:
            raise Unauthenticated("the access token names no known principal") from None

    def from_authorization_header(self, value: str | None) -> Principal | None:
        """None without a header; the principal for `Bearer <token>`; `Unauthenticated` else."""
        if not value:
            return None
        scheme, _, token = value.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("the Authorization header must be 'Bearer <access token>'")
        return self.verify(token.strip())
