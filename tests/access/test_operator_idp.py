"""Operators from an external identity provider: JWTs checked against a JWKS served on
127.0.0.1 by a tiny Starlette app, with an RSA key generated here."""

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.settings import Settings
from tests.access_builders import make_operator
from tests.conftest import LiveServer, running, serve

ISSUER = "https://idp.example.test/"
AUDIENCE = "chargenet-operators"
KID = "key-1"
ALERTS = "{ alerts { edges { node { code } } } }"


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
async def idp(signing_key: rsa.RSAPrivateKey) -> AsyncIterator[LiveServer]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key.public_key()))
    jwks = {"keys": [public | {"kid": KID, "use": "sig", "alg": "RS256"}]}

    async def keys(request: Any) -> JSONResponse:
        return JSONResponse(jwks)

    async with serve(Starlette(routes=[Route("/jwks.json", keys)])) as server:
        yield server


@pytest.fixture
async def http(idp: LiveServer, database_url: str, engine: Any) -> AsyncIterator[httpx.AsyncClient]:
    from app.main import create_app

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        operator_jwks_url=f"{idp.http_url}/jwks.json",
        operator_jwt_issuer=ISSUER,
        operator_jwt_audience=AUDIENCE,
    )
    app = create_app(settings)
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            client.app = app  # type: ignore[attr-defined]
            yield client


def token(key: rsa.RSAPrivateKey, **overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now, "exp": now + 300,
        "chargenet_org": overrides.pop("org", 1), "chargenet_role": "viewer",
    } | overrides  # fmt: skip
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": KID})


async def post(http: httpx.AsyncClient, bearer: str, query: str = ALERTS) -> dict[str, Any]:
    response = await http.post(
        "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {bearer}"}
    )
    body: dict[str, Any] = response.json()
    return body


async def test_a_valid_provider_token_reads_its_organisation(
    http: httpx.AsyncClient, signing_key: rsa.RSAPrivateKey
) -> None:
    app = http.app  # type: ignore[attr-defined]
    org = await make_operator(app.state.runtime.session_factory)
    body = await post(http, token(signing_key, org=org.id))
    assert body == {"data": {"alerts": {"edges": []}}}
    admin_only = await post(http, token(signing_key, org=org.id), "{ apiKeys { prefix } }")
    assert admin_only["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"aud": "someone-else"}, "not for this API"),
        ({"exp": int(time.time()) - 60}, "has expired"),
        ({"chargenet_role": "owner"}, "no organisation or role"),
        ({"chargenet_org": "not-a-number"}, "no organisation or role"),
    ],
    ids=["wrong-audience", "expired", "unknown-role", "bad-org"],
)
async def test_a_provider_token_that_does_not_verify_is_refused(
    http: httpx.AsyncClient,
    signing_key: rsa.RSAPrivateKey,
    overrides: dict[str, Any],
    message: str,
) -> None:
    body = await post(http, token(signing_key, **overrides))
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert message in body["errors"][0]["message"]


async def test_a_token_signed_by_another_key_or_issuer_is_refused(
    http: httpx.AsyncClient,
) -> None:
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for forged in (token(impostor), token(impostor, iss="https://evil.example/")):
        body = await post(http, forged)
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
