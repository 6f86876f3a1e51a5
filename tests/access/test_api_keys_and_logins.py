"""Partner API keys (shown once, hashed, scoped, revocable, audited), operator log-in, and the
audit log an organisation's admins read; over HTTP through the real app."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette

from app.db.models import ApiKey, OperatorUser
from app.domain.access import OperatorRole
from app.domain.errors import InvalidInput
from tests.access_builders import (
    PASSWORD,
    make_api_key,
    make_operator,
    make_operator_user,
    operator_bearer,
)

CREATE = """mutation($scopes: [String!]!) {
  createApiKey(input: {partner: "Fleet Co", scopes: $scopes}) {
    __typename ... on CreatedApiKey { key apiKey { prefix scopes revokedAt } }
    ... on InvalidApiKeyInput { message } } }"""
REVOKE = """mutation($prefix: String!) { revokeApiKey(prefix: $prefix) {
  __typename ... on RevokedApiKey { apiKey { revokedAt } } ... on ApiKeyNotFound { message } } }"""
KEYS = "{ apiKeys { prefix partner scopes lastUsedAt } }"
ALERTS = "{ alerts { edges { node { code } } } }"
AUDIT = "{ auditLog { edges { node { actor action target result detail } } } }"
LOG_IN = """mutation($email: String!, $password: String!) {
  operatorLogIn(input: {email: $email, password: $password}) {
    __typename ... on OperatorAuthPayload { accessToken user { email role organisationId } }
    ... on InvalidCredentials { message } } }"""


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def post(
    http: httpx.AsyncClient, query: str, headers: dict[str, str], **variables: Any
) -> dict[str, Any]:
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors") or []]


async def test_an_admins_key_is_shown_once_works_within_its_scope_and_dies_when_revoked(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    runtime = app.state.runtime
    admin = await make_operator_user(runtime.session_factory)
    as_admin = operator_bearer(runtime.tokens, admin)
    created = (await post(http, CREATE, as_admin, scopes=["network:read"]))["data"]["createApiKey"]
    key, prefix = created["key"], created["apiKey"]["prefix"]
    assert key.startswith(f"{prefix}_")
    assert created["apiKey"]["scopes"] == ["network:read"]
    async with runtime.session_factory() as db:
        row = (await db.exec(select(ApiKey))).one()
    assert key.split("_")[-1] not in row.key_hash  # only the digest is stored
    listed = (await post(http, KEYS, as_admin))["data"]["apiKeys"]
    assert listed == [{"prefix": prefix, "partner": "Fleet Co", "scopes": ["network:read"],
                       "lastUsedAt": None}]  # fmt: skip
    assert key not in str(listed)

    for headers in ({"X-Api-Key": key}, {"Authorization": f"Bearer {key}"}):
        assert (await post(http, ALERTS, headers))["data"]["alerts"]["edges"] == []
    assert (await post(http, KEYS, as_admin))["data"]["apiKeys"][0]["lastUsedAt"] is not None
    # network:read reads like a viewer; acting and administering need a user.
    assert codes(await post(http, KEYS, {"X-Api-Key": key})) == ["FORBIDDEN"]

    revoked = (await post(http, REVOKE, as_admin, prefix=prefix))["data"]["revokeApiKey"]
    assert revoked["apiKey"]["revokedAt"] is not None
    body = await post(http, ALERTS, {"X-Api-Key": key})
    assert body["data"] is None
    assert codes(body) == ["UNAUTHENTICATED"]
    assert body["errors"][0]["message"] == "the API key was revoked"

    audit = (await post(http, AUDIT, as_admin))["data"]["auditLog"]["edges"]
    actions = [(e["node"]["action"], e["node"]["target"]) for e in audit]
    assert actions[:2] == [("api_key.revoke", f"api-key:{prefix[3:]}"),
                           ("api_key.create", f"api-key:{prefix[3:]}")]  # fmt: skip
    assert key not in str(audit)
    stranger = await make_operator_user(runtime.session_factory)
    as_stranger = operator_bearer(runtime.tokens, stranger)
    assert (await post(http, AUDIT, as_stranger))["data"]["auditLog"]["edges"] == []
    assert (await post(http, KEYS, as_stranger))["data"]["apiKeys"] == []
    gone = (await post(http, REVOKE, as_stranger, prefix=prefix))["data"]["revokeApiKey"]
    assert gone["__typename"] == "ApiKeyNotFound"


@pytest.mark.parametrize(
    ("scopes", "message"),
    [(["sessions:delete"], "scope 'sessions:delete' is unknown"), ([], "no scopes given")],
    ids=["unknown-scope", "no-scope"],
)
async def test_bad_scopes_are_refused_by_name(
    app: Starlette, http: httpx.AsyncClient, scopes: list[str], message: str
) -> None:
    admin = await make_operator_user(app.state.runtime.session_factory)
    body = await post(http, CREATE, operator_bearer(app.state.runtime.tokens, admin), scopes=scopes)
    result = body["data"]["createApiKey"]
    assert result["__typename"] == "InvalidApiKeyInput"
    assert message in result["message"]


@pytest.mark.parametrize(
    "headers",
    [{"X-Api-Key": "ck_abcdefgh_" + "A" * 43}, {"X-Api-Key": "not-a-key"},
     {"Authorization": "Bearer ck_nothing"}],
    ids=["unknown", "malformed", "malformed-bearer"],
)  # fmt: skip
async def test_a_wrong_key_is_unauthenticated(
    app: Starlette, http: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    await make_api_key(app.state.runtime.session_factory)
    body = await post(http, ALERTS, headers)
    assert body["data"] is None
    assert codes(body) == ["UNAUTHENTICATED"]


async def test_a_key_without_network_read_or_of_no_organisation_reads_no_operator_data(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    factory = app.state.runtime.session_factory
    partner_key = await make_api_key(factory, scopes=("locations:read",))
    body = await post(http, ALERTS, {"X-Api-Key": partner_key})
    assert codes(body) == ["FORBIDDEN"]
    locations = await post(
        http, "{ locations { edges { node { name } } } }", {"X-Api-Key": partner_key}
    )
    assert "errors" not in locations
    with pytest.raises(InvalidInput, match="need an organisation"):
        await make_api_key(factory, scopes=("network:read",))


async def test_an_operator_logs_in_and_the_token_names_organisation_and_role(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    factory = app.state.runtime.session_factory
    org = await make_operator(factory)
    user = await make_operator_user(factory, operator=org, role=OperatorRole.TECHNICIAN)
    wrong = await post(http, LOG_IN, {}, email=user.email, password="wrong-password-1")
    assert wrong["data"]["operatorLogIn"]["__typename"] == "InvalidCredentials"
    unknown = await post(http, LOG_IN, {}, email="nobody@example.com", password=PASSWORD)
    assert unknown["data"]["operatorLogIn"] == wrong["data"]["operatorLogIn"]
    ok = await post(http, LOG_IN, {}, email=user.email.upper(), password=PASSWORD)
    payload = ok["data"]["operatorLogIn"]
    assert payload["user"] == {"email": user.email, "role": "technician", "organisationId": org.id}
    headers = {"Authorization": f"Bearer {payload['accessToken']}"}
    assert (await post(http, ALERTS, headers))["data"]["alerts"]["edges"] == []
    assert codes(await post(http, KEYS, headers)) == ["FORBIDDEN"]  # admins only
    assert codes(await post(http, "{ me { email } }", headers)) == ["FORBIDDEN"]
    async with factory() as db:
        row = await db.get(OperatorUser, user.id)
        assert row is not None
        row.disabled = True
        db.add(row)
        await db.commit()
    refused = await post(http, LOG_IN, {}, email=user.email, password=PASSWORD)
    assert refused["data"]["operatorLogIn"]["__typename"] == "InvalidCredentials"
