"""Saved payment methods over GraphQL: add (SetupIntent), list, choose the default, remove —
each the caller's own only, refused to anonymous callers and to other drivers."""

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.payments.harness import LocalStripe

SIGN_UP = """
mutation($input: SignUpInput!) { signUp(input: $input) { ... on AuthPayload { accessToken } } }"""
ADD = """mutation { addPaymentMethod { __typename
  ... on PaymentMethodSetup { setupIntentId clientSecret } } }"""
METHODS = "query { me { paymentMethods { id last4 isDefault wallet } } }"
SET_DEFAULT = """
mutation($id: ID!) { setDefaultPaymentMethod(input: {paymentMethodId: $id}) { __typename
  ... on SetDefaultPaymentMethodPayload { paymentMethods { id isDefault } }
  ... on PaymentMethodNotFound { message } } }"""
REMOVE = """
mutation($id: ID!) { removePaymentMethod(input: {paymentMethodId: $id}) { __typename
  ... on RemovePaymentMethodPayload { paymentMethods { id isDefault } }
  ... on PaymentMethodNotFound { message } } }"""


class Caller:
    def __init__(self, http: httpx.AsyncClient, token: str | None = None) -> None:
        self.http, self.token = http, token

    async def body(self, query: str, **variables: Any) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(self, query: str, **variables: Any) -> dict[str, Any]:
        body = await self.body(query, **variables)
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def driver(http: httpx.AsyncClient, email: str) -> Caller:
    signed = await Caller(http).data(
        SIGN_UP, input={"email": email, "password": "correct horse 1", "name": "D"}
    )
    return Caller(http, signed["signUp"]["accessToken"])


async def save_card(caller: Caller, localstripe: LocalStripe, card: str = "pm_card_visa") -> str:
    setup = (await caller.data(ADD))["addPaymentMethod"]
    assert setup["__typename"] == "PaymentMethodSetup"
    return await localstripe.confirm_setup(setup["setupIntentId"], card)


async def test_a_driver_saves_chooses_and_removes_payment_methods(
    http: httpx.AsyncClient, localstripe: LocalStripe
) -> None:
    ada = await driver(http, "ada@example.org")
    assert (await ada.data(METHODS))["me"]["paymentMethods"] == []
    first = await save_card(ada, localstripe)
    second = await save_card(ada, localstripe)
    listed = (await ada.data(METHODS))["me"]["paymentMethods"]
    assert {(m["id"], m["isDefault"]) for m in listed} == {(first, True), (second, False)}

    chosen = (await ada.data(SET_DEFAULT, id=second))["setDefaultPaymentMethod"]
    assert {(m["id"], m["isDefault"]) for m in chosen["paymentMethods"]} == {
        (first, False), (second, True),
    }  # fmt: skip
    removed = (await ada.data(REMOVE, id=second))["removePaymentMethod"]
    assert removed["paymentMethods"] == [{"id": first, "isDefault": True}]
    detached = await localstripe.client.v1.payment_methods.retrieve_async(second)
    assert detached.customer is None


@pytest.mark.parametrize("mutation", [SET_DEFAULT, REMOVE], ids=["set-default", "remove"])
async def test_another_drivers_payment_method_is_not_found(
    http: httpx.AsyncClient, localstripe: LocalStripe, mutation: str
) -> None:
    ada, bob = await driver(http, "ada@example.org"), await driver(http, "bob@example.org")
    adas = await save_card(ada, localstripe)
    await save_card(bob, localstripe)
    (result,) = (await bob.data(mutation, id=adas)).values()
    assert result["__typename"] == "PaymentMethodNotFound"
    assert adas in result["message"]
    assert adas not in [m["id"] for m in (await bob.data(METHODS))["me"]["paymentMethods"]]
    still = (await ada.data(METHODS))["me"]["paymentMethods"]
    assert still == [{"id": adas, "last4": "4242", "isDefault": True, "wallet": None}]


@pytest.mark.parametrize(
    ("query", "variables"),
    [(ADD, {}), (METHODS, {}), (SET_DEFAULT, {"id": "pm_x"}), (REMOVE, {"id": "pm_x"})],
    ids=["add", "list", "set-default", "remove"],
)
async def test_anonymous_callers_are_refused(
    http: httpx.AsyncClient, query: str, variables: dict[str, Any]
) -> None:
    body = await Caller(http).body(query, **variables)
    assert body["data"] is None
    assert "log in first" in body["errors"][0]["message"]
