"""signUp, logIn, refreshTokens, logOut and `me` over HTTP: success, every failure, access."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select
from starlette.applications import Starlette

from app.db.engine import SessionFactory
from app.db.models import Driver, RefreshToken
from app.services.auth import Principal, PrincipalKind
from tests.graphql.conftest import GraphQLClient

PASSWORD = "correct horse battery"
AUTH = """
  __typename
  ... on AuthPayload {
    accessToken accessTokenExpiresAt refreshToken refreshTokenExpiresAt
    driver { id email name }
  }
"""


def payload(*failures: str) -> str:
    return AUTH + "".join(f" ... on {name} {{ message }}" for name in failures)


SIGN_UP = f"""
mutation SignUp($input: SignUpInput!) {{
  signUp(input: $input) {{ {payload("EmailTaken", "InvalidSignUp")} }}
}}
"""
LOG_IN = f"""
mutation LogIn($input: LogInInput!) {{ logIn(input: $input) {{ {payload("InvalidCredentials")} }} }}
"""
REFRESH = f"""
mutation Refresh($token: String!) {{
  refreshTokens(input: {{refreshToken: $token}}) {{ {payload("InvalidRefreshToken")} }}
}}
"""
LOG_OUT = """
mutation LogOut($token: String!) { logOut(input: {refreshToken: $token}) { revoked } }
"""
ME = "{ me { id email name idTokens { uid type status label } favorites { id } } }"


async def as_driver(
    graphql: GraphQLClient, token: str | None, query: str, **variables: Any
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    response = await graphql.http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def sign_up(graphql: GraphQLClient, email: str = "ada@example.org") -> dict[str, Any]:
    data = await graphql.data(
        SIGN_UP, input={"email": email, "password": PASSWORD, "name": "Ada Lovelace"}
    )
    payload: dict[str, Any] = data["signUp"]
    assert payload["__typename"] == "AuthPayload", payload
    return payload


async def test_a_new_driver_is_logged_in_and_has_an_app_token(graphql: GraphQLClient) -> None:
    payload = await sign_up(graphql, email=" Ada@Example.ORG")
    assert payload["driver"]["email"] == "ada@example.org"
    expires = datetime.fromisoformat(payload["accessTokenExpiresAt"])
    assert timedelta(0) < expires - datetime.now(UTC) <= timedelta(seconds=900)
    body = await as_driver(graphql, payload["accessToken"], ME)
    me = body["data"]["me"]
    assert me["id"] == payload["driver"]["id"]
    assert (me["email"], me["name"], me["favorites"]) == ("ada@example.org", "Ada Lovelace", [])
    [token] = me["idTokens"]
    assert token["type"] == "APP"
    assert token["status"] == "ACCEPTED"
    assert len(token["uid"]) == 20


@pytest.mark.parametrize(
    ("given", "typename", "message"),
    [
        ({"email": "ADA@example.org "}, "EmailTaken", "already has an account"),
        ({"email": "ada"}, "InvalidSignUp", "is not an email address"),
        ({"password": "too-short"}, "InvalidSignUp", "expected at least 10"),
        ({"password": "0000000000"}, "InvalidSignUp", "repeats one character"),
        ({"name": "N" * 101}, "InvalidSignUp", "expected at most 100"),
    ],
    ids=["email-taken", "bad-email", "short-password", "one-char-password", "long-name"],
)
async def test_sign_up_failures_are_typed(
    graphql: GraphQLClient,
    session_factory: SessionFactory,
    given: dict[str, str],
    typename: str,
    message: str,
) -> None:
    await sign_up(graphql)
    fields = {"email": "new@example.org", "password": PASSWORD, "name": "New"} | given
    result = (await graphql.data(SIGN_UP, input=fields))["signUp"]
    assert result["__typename"] == typename
    assert message in result["message"]
    async with session_factory() as db:
        assert len((await db.exec(select(Driver))).all()) == 1


async def test_log_in_returns_a_working_token_pair(graphql: GraphQLClient) -> None:
    signed_up = await sign_up(graphql)
    result = (await graphql.data(LOG_IN, input={"email": "ADA@example.org", "password": PASSWORD}))[
        "logIn"
    ]
    assert result["__typename"] == "AuthPayload"
    assert result["driver"]["id"] == signed_up["driver"]["id"]
    assert result["refreshToken"] != signed_up["refreshToken"]
    body = await as_driver(graphql, result["accessToken"], ME)
    assert body["data"]["me"]["email"] == "ada@example.org"


async def test_log_in_failures_say_the_same_thing(graphql: GraphQLClient) -> None:
    await sign_up(graphql)
    wrong_password = await graphql.data(
        LOG_IN, input={"email": "ada@example.org", "password": "not the password"}
    )
    unknown_email = await graphql.data(
        LOG_IN, input={"email": "nobody@example.org", "password": PASSWORD}
    )
    assert wrong_password == unknown_email
    assert wrong_password["logIn"] == {
        "__typename": "InvalidCredentials",
        "message": "the email or password is not right",
    }


async def test_refresh_rotates_and_reuse_ends_the_login(graphql: GraphQLClient) -> None:
    first = await sign_up(graphql)
    second = (await graphql.data(REFRESH, token=first["refreshToken"]))["refreshTokens"]
    assert second["__typename"] == "AuthPayload"
    assert second["refreshToken"] != first["refreshToken"]
    assert (await as_driver(graphql, second["accessToken"], ME))["data"]["me"]["email"]
    reused = (await graphql.data(REFRESH, token=first["refreshToken"]))["refreshTokens"]
    assert reused["__typename"] == "InvalidRefreshToken"
    assert "already used" in reused["message"]
    after_theft = (await graphql.data(REFRESH, token=second["refreshToken"]))["refreshTokens"]
    assert after_theft["__typename"] == "InvalidRefreshToken"


async def test_an_unknown_refresh_token_is_refused(graphql: GraphQLClient) -> None:
    result = (await graphql.data(REFRESH, token="made-up"))["refreshTokens"]
    assert result == {
        "__typename": "InvalidRefreshToken",
        "message": "the refresh token is not valid: log in again",
    }


async def test_log_out_revokes_the_login_and_is_idempotent(
    graphql: GraphQLClient, session_factory: SessionFactory
) -> None:
    payload = await sign_up(graphql)
    assert (await graphql.data(LOG_OUT, token=payload["refreshToken"]))["logOut"] == {
        "revoked": True
    }
    assert (await graphql.data(LOG_OUT, token=payload["refreshToken"]))["logOut"] == {
        "revoked": False
    }
    refused = (await graphql.data(REFRESH, token=payload["refreshToken"]))["refreshTokens"]
    assert refused["__typename"] == "InvalidRefreshToken"
    async with session_factory() as db:
        rows = (await db.exec(select(RefreshToken))).all()
    assert [row.revoked_at is not None for row in rows] == [True]


async def test_me_refuses_anonymous_callers(graphql: GraphQLClient) -> None:
    body = await as_driver(graphql, None, ME)
    assert body["data"] is None
    assert body["errors"][0]["message"].startswith("log in first")


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("expired", "the access token has expired: refresh it"),
        ("garbage", "the access token is not valid"),
        ("disabled", "this account is disabled or no longer exists"),
    ],
    ids=["expired", "garbage", "disabled-account"],
)
async def test_me_refuses_bad_credentials(
    graphql: GraphQLClient,
    app: Starlette,
    session_factory: SessionFactory,
    token: str,
    message: str,
) -> None:
    payload = await sign_up(graphql)
    async with session_factory() as db:
        driver = (await db.exec(select(Driver))).one()
        assert driver.id is not None
        driver.disabled = token == "disabled"
        await db.commit()
    tokens = app.state.runtime.tokens
    principal = Principal(PrincipalKind.DRIVER, driver.id)
    bearer = {
        "expired": tokens.issue(principal, now=datetime.now(UTC) - timedelta(hours=1))[0],
        "garbage": payload["accessToken"][:-4] + "AAAA",
        "disabled": payload["accessToken"],
    }[token]
    body = await as_driver(graphql, bearer, ME)
    assert body["data"] is None
    assert [error["message"] for error in body["errors"]] == [message]
