"""addRfidCard and removeRfidCard over HTTP: typed failures, own cards only, anonymous refused."""

from typing import Any

import pytest
from sqlmodel import col, select

from app.db.engine import SessionFactory
from app.db.models import IdToken
from app.domain.enums import AuthorizationStatus
from tests.graphql.conftest import GraphQLClient
from tests.graphql.test_accounts_auth import ME, as_driver, sign_up

ADD = """
mutation Add($input: AddRfidCardInput!) {
  addRfidCard(input: $input) {
    __typename
    ... on RfidCardAdded { idToken { uid type status label } }
    ... on RfidCardTaken { message }
    ... on InvalidRfidCard { message }
  }
}
"""
REMOVE = """
mutation Remove($uid: String!) {
  removeRfidCard(input: {uid: $uid}) {
    __typename
    ... on RfidCardRemoved { idToken { uid status } }
    ... on RfidCardNotFound { message }
  }
}
"""


async def add(graphql: GraphQLClient, token: str, uid: str, label: str | None = None) -> Any:
    body = await as_driver(graphql, token, ADD, input={"uid": uid, "label": label})
    return body["data"]["addRfidCard"]


async def statuses(session_factory: SessionFactory) -> dict[str, AuthorizationStatus]:
    async with session_factory() as db:
        rows = (await db.exec(select(IdToken).order_by(col(IdToken.id)))).all()
    return {row.uid: row.status for row in rows}


async def test_a_driver_registers_and_removes_a_card(graphql: GraphQLClient) -> None:
    token = (await sign_up(graphql))["accessToken"]
    added = await add(graphql, token, " 04a1-b2c3 ", "Blue card")
    assert added == {
        "__typename": "RfidCardAdded",
        "idToken": {"uid": "04A1-B2C3", "type": "RFID", "status": "ACCEPTED", "label": "Blue card"},
    }
    removed = (await as_driver(graphql, token, REMOVE, uid="04a1-B2C3"))["data"]
    assert removed["removeRfidCard"] == {
        "__typename": "RfidCardRemoved",
        "idToken": {"uid": "04A1-B2C3", "status": "BLOCKED"},
    }
    again = (await as_driver(graphql, token, REMOVE, uid="04A1-B2C3"))["data"]
    assert again == removed
    me = (await as_driver(graphql, token, ME))["data"]["me"]
    assert [(t["type"], t["status"]) for t in me["idTokens"]] == [
        ("APP", "ACCEPTED"),
        ("RFID", "BLOCKED"),
    ]


@pytest.mark.parametrize(
    ("uid", "label", "typename", "message"),
    [
        ("card-1", None, "RfidCardTaken", "'CARD-1' is already registered"),
        ("", None, "InvalidRfidCard", "is not a card uid"),
        ("X" * 21, None, "InvalidRfidCard", "expected 1-20"),
        ("04:A1", None, "InvalidRfidCard", "is not a card uid"),
        ("CARD-2", "L" * 101, "InvalidRfidCard", "label has 101 characters"),
    ],
    ids=["taken-any-case", "empty", "too-long", "bad-characters", "long-label"],
)
async def test_card_failures_are_typed(
    graphql: GraphQLClient,
    session_factory: SessionFactory,
    uid: str,
    label: str | None,
    typename: str,
    message: str,
) -> None:
    owner = (await sign_up(graphql, "owner@example.org"))["accessToken"]
    assert (await add(graphql, owner, "CARD-1"))["__typename"] == "RfidCardAdded"
    before = await statuses(session_factory)
    other = (await sign_up(graphql, "other@example.org"))["accessToken"]
    result = await add(graphql, other, uid, label)
    assert result["__typename"] == typename
    assert message in result["message"]
    assert len(await statuses(session_factory)) == len(before) + 1  # only other's app token


async def test_a_driver_cannot_remove_another_drivers_card_or_an_app_token(
    graphql: GraphQLClient, session_factory: SessionFactory
) -> None:
    ada = (await sign_up(graphql, "ada@example.org"))["accessToken"]
    bob = (await sign_up(graphql, "bob@example.org"))["accessToken"]
    await add(graphql, ada, "ADA-CARD")
    bob_app = (await as_driver(graphql, bob, ME))["data"]["me"]["idTokens"][0]["uid"]
    before = await statuses(session_factory)
    for uid in ("ADA-CARD", bob_app):
        result = (await as_driver(graphql, bob, REMOVE, uid=uid))["data"]["removeRfidCard"]
        assert result == {
            "__typename": "RfidCardNotFound",
            "message": f"you have no RFID card {uid!r}",
        }
    assert await statuses(session_factory) == before
    assert set(before.values()) == {AuthorizationStatus.ACCEPTED}


async def test_each_driver_sees_only_their_own_tokens(graphql: GraphQLClient) -> None:
    ada = (await sign_up(graphql, "ada@example.org"))["accessToken"]
    bob = (await sign_up(graphql, "bob@example.org"))["accessToken"]
    await add(graphql, ada, "ADA-CARD")
    await add(graphql, bob, "BOB-CARD")
    ada_me = (await as_driver(graphql, ada, ME))["data"]["me"]
    bob_me = (await as_driver(graphql, bob, ME))["data"]["me"]
    assert ada_me["email"] == "ada@example.org"
    assert [t["uid"] for t in ada_me["idTokens"] if t["type"] == "RFID"] == ["ADA-CARD"]
    assert [t["uid"] for t in bob_me["idTokens"] if t["type"] == "RFID"] == ["BOB-CARD"]
    assert not {t["uid"] for t in ada_me["idTokens"]} & {t["uid"] for t in bob_me["idTokens"]}


@pytest.mark.parametrize(
    ("query", "variables"),
    [(ADD, {"input": {"uid": "ANON-1"}}), (REMOVE, {"uid": "ADA-CARD"})],
    ids=["add", "remove"],
)
async def test_anonymous_callers_cannot_touch_cards(
    graphql: GraphQLClient,
    session_factory: SessionFactory,
    query: str,
    variables: dict[str, Any],
) -> None:
    ada = (await sign_up(graphql))["accessToken"]
    await add(graphql, ada, "ADA-CARD")
    before = await statuses(session_factory)
    body = await as_driver(graphql, None, query, **variables)
    assert body["data"] is None
    assert body["errors"][0]["message"].startswith("log in first")
    assert await statuses(session_factory) == before
