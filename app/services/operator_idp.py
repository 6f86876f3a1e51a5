"""Operator users from an external identity provider: JWTs checked against the provider's JWKS.

Configured by OPERATOR_JWKS_URL, OPERATOR_JWT_ISSUER and OPERATOR_JWT_AUDIENCE. A token must be
signed by a key in the JWKS (RS256/ES256 family), name our audience and the provider as issuer,
and carry `exp`, `sub`, the organisation (the operator's id, claim OPERATOR_JWT_ORG_CLAIM) and
the role (admin, technician or viewer, claim OPERATOR_JWT_ROLE_CLAIM). PyJWKClient caches the
keys and refetches them when a token names an unknown key id (the provider rotated).
"""

import asyncio

import jwt

from app.domain.errors import Unauthenticated
from app.services.auth import Principal, operator_principal
from app.settings import Settings

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384"]
"""Asymmetric only: accepting HS256 here would let anyone who has the public key sign."""


class ExternalOperatorTokens:
    """Verifies operator JWTs issued by the external identity provider."""

    def __init__(self, settings: Settings) -> None:
        if (
            settings.operator_jwks_url is None
            or settings.operator_jwt_issuer is None
            or settings.operator_jwt_audience is None
        ):
            raise ValueError(
                "OPERATOR_JWKS_URL, OPERATOR_JWT_ISSUER and OPERATOR_JWT_AUDIENCE must all be set"
            )
        self.issuer = settings.operator_jwt_issuer
        self._audience = settings.operator_jwt_audience
        self._org_claim = settings.operator_jwt_org_claim
        self._role_claim = settings.operator_jwt_role_claim
        self._jwks = jwt.PyJWKClient(
            settings.operator_jwks_url,
            cache_keys=True,
            lifespan=settings.operator_jwks_cache_s,
            timeout=10,
        )

    async def verify(self, token: str) -> Principal:
        """The operator principal of a valid token; Unauthenticated naming what is wrong."""
        try:
            # The JWKS fetch is blocking HTTP (urllib): keep it off the event loop.
            key = await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=ALGORITHMS,
                issuer=self.issuer,
                audience=self._audience,
                options={"require": ["exp", "iss", "sub", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the identity provider's token has expired") from None
        except jwt.PyJWKClientError:
            raise Unauthenticated("the token's signing key is not in the provider's JWKS") from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated("the identity provider's token is not for this API") from None
        except jwt.InvalidTokenError:
            raise Unauthenticated("the identity provider's token is not valid") from None
        principal = operator_principal(
            subject_id=0,
            operator_id=claims.get(self._org_claim),
            role=claims.get(self._role_claim),
        )
        return Principal(
            principal.kind,
            0,
            operator_id=principal.operator_id,
            role=principal.role,
            external_subject=str(claims["sub"])[:64],
        )
