"""The operator alert API: acknowledge/resolve lifecycle, and refusal without the operator key."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from starlette.applications import Starlette

from app.db.engine import SessionFactory
from app.domain.alerts import AlertSeverity, AlertSource
from app.services import alerts
from app.settings import Settings
from tests.conftest import running
from tests.factories import make_station

KEY = "operator-key-for-tests-0001"
LIST = "{ alerts { edges { node { id code state acknowledgedBy resolvedBy } } } }"
ACK = """mutation($id: ID!) { acknowledgeAlert(input: {alertId: $id, by: "noc"}) {
  __typename ... on AlertPayload { alert { state acknowledgedBy } }
  ... on AlertAlreadyResolved { message } ... on AlertNotFound { message } } }"""
RESOLVE = """mutation($id: ID!) { resolveAlert(input: {alertId: $id, by: "noc"}) {
  __typename ... on AlertPayload { alert { state resolvedBy } }
  ... on AlertNotFound { message } } }"""


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(_env_file=None, database_url=database_url, operator_api_key=KEY)  # type: ignore[call-arg]


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def post(
    http: httpx.AsyncClient, query: str, key: str | None = KEY, **variables: object
) -> dict:  # type: ignore[type-arg]
    headers = {"X-Operator-Key": key} if key is not None else {}
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


async def raise_one(factory: SessionFactory) -> None:
    await make_station(factory, station_id="ALERT-1")
    async with factory() as db:
        await alerts.raise_alert(
            db, station_id="ALERT-1", evse_id=None, code="GroundFailure",
            severity=AlertSeverity.MAJOR, source=AlertSource.STATUS, at=datetime.now(UTC),
        )  # fmt: skip
        await db.commit()


async def test_an_operator_acknowledges_then_resolves_an_alert(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    await raise_one(app.state.runtime.session_factory)
    [edge] = (await post(http, LIST))["data"]["alerts"]["edges"]
    alert_id = edge["node"]["id"]
    acked = (await post(http, ACK, id=alert_id))["data"]["acknowledgeAlert"]
    assert acked["alert"] == {"state": "ACKNOWLEDGED", "acknowledgedBy": "noc"}
    resolved = (await post(http, RESOLVE, id=alert_id))["data"]["resolveAlert"]
    assert resolved["alert"] == {"state": "RESOLVED", "resolvedBy": "noc"}
    again = (await post(http, ACK, id=alert_id))["data"]["acknowledgeAlert"]
    assert again["__typename"] == "AlertAlreadyResolved"
    missing = (await post(http, RESOLVE, id="QWxlcnQ6OTk5"))["data"]["resolveAlert"]
    assert missing["__typename"] == "AlertNotFound"


@pytest.mark.parametrize(
    ("key", "message"),
    [(None, "operator API: send 'X-Operator-Key: <key>'"),
     ("wrong", "X-Operator-Key is not the operator API key")],
    ids=["anonymous", "wrong-key"],
)  # fmt: skip
@pytest.mark.parametrize("query", [LIST, ACK, RESOLVE], ids=["alerts", "acknowledge", "resolve"])
async def test_without_the_operator_key_nothing_is_shown(
    app: Starlette, http: httpx.AsyncClient, key: str | None, message: str, query: str
) -> None:
    await raise_one(app.state.runtime.session_factory)
    body = await post(http, query, key=key, id="QWxlcnQ6MQ==")
    assert body["data"] is None
    assert [e["message"] for e in body["errors"]] == [message]


async def test_the_operator_api_is_off_without_a_configured_key(database_url: str) -> None:
    from app.main import create_app

    app = create_app(Settings(_env_file=None, database_url=database_url))  # type: ignore[call-arg]
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            body = await post(http, LIST, key="anything")
    assert body["data"] is None
    assert (
        body["errors"][0]["message"] == "the operator API is disabled: OPERATOR_API_KEY is not set"
    )
