"""The operator alert API: acknowledge/resolve lifecycle by a technician of the owning
organisation; anonymous callers, viewers and other organisations are refused."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlmodel import col, select
from starlette.applications import Starlette

from app.db.engine import SessionFactory
from app.db.models import AuditRecord, Operator
from app.domain.access import OperatorRole
from app.domain.alerts import AlertSeverity, AlertSource
from app.services import alerts
from tests.access_builders import make_operator_user, operator_bearer, operator_headers, own_network
from tests.factories import make_station

LIST = "{ alerts { edges { node { id code state acknowledgedBy resolvedBy } } } }"
ACK = """mutation($id: ID!) { acknowledgeAlert(input: {alertId: $id, by: "noc"}) {
  __typename ... on AlertPayload { alert { state acknowledgedBy } }
  ... on AlertAlreadyResolved { message } ... on AlertNotFound { message } } }"""
RESOLVE = """mutation($id: ID!) { resolveAlert(input: {alertId: $id, by: "noc"}) {
  __typename ... on AlertPayload { alert { state resolvedBy } }
  ... on AlertNotFound { message } } }"""


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def post(
    http: httpx.AsyncClient, query: str, headers: dict[str, str] | None, **variables: object
) -> dict:  # type: ignore[type-arg]
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers or {}
    )
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


async def technician_of_station_owner(app: Starlette) -> dict[str, str]:
    """A technician of the organisation that owns every station built so far."""
    runtime = app.state.runtime
    user = await make_operator_user(runtime.session_factory, role=OperatorRole.TECHNICIAN)
    await own_network(runtime.session_factory, user.operator_id)
    return operator_bearer(runtime.tokens, user)


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
    headers = await technician_of_station_owner(app)
    [edge] = (await post(http, LIST, headers))["data"]["alerts"]["edges"]
    alert_id = edge["node"]["id"]
    acked = (await post(http, ACK, headers, id=alert_id))["data"]["acknowledgeAlert"]
    assert acked["alert"] == {"state": "ACKNOWLEDGED", "acknowledgedBy": "noc"}
    resolved = (await post(http, RESOLVE, headers, id=alert_id))["data"]["resolveAlert"]
    assert resolved["alert"] == {"state": "RESOLVED", "resolvedBy": "noc"}
    again = (await post(http, ACK, headers, id=alert_id))["data"]["acknowledgeAlert"]
    assert again["__typename"] == "AlertAlreadyResolved"
    missing = (await post(http, RESOLVE, headers, id="QWxlcnQ6OTk5"))["data"]["resolveAlert"]
    assert missing["__typename"] == "AlertNotFound"
    async with app.state.runtime.session_factory() as db:
        records = (await db.exec(select(AuditRecord).order_by(col(AuditRecord.id)))).all()
    assert [(r.action, r.actor.split(":")[0]) for r in records[-2:]] == [
        ("alert.acknowledge", "operator-user"),
        ("alert.resolve", "operator-user"),
    ]


@pytest.mark.parametrize("query", [LIST, ACK, RESOLVE], ids=["alerts", "acknowledge", "resolve"])
async def test_anonymous_callers_see_nothing(
    app: Starlette, http: httpx.AsyncClient, query: str
) -> None:
    await raise_one(app.state.runtime.session_factory)
    body = await post(http, query, None, id="QWxlcnQ6MQ==")
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]


@pytest.mark.parametrize("query", [ACK, RESOLVE], ids=["acknowledge", "resolve"])
async def test_a_viewer_may_not_change_an_alert(
    app: Starlette, http: httpx.AsyncClient, query: str
) -> None:
    await raise_one(app.state.runtime.session_factory)
    headers = await technician_of_station_owner(app)
    [edge] = (await post(http, LIST, headers))["data"]["alerts"]["edges"]
    async with app.state.runtime.session_factory() as db:
        operator = await db.get(Operator, (await db.exec(select(Operator.id))).first())
    viewer = await make_operator_user(
        app.state.runtime.session_factory, operator=operator, role=OperatorRole.VIEWER
    )
    body = await post(
        http, query, operator_bearer(app.state.runtime.tokens, viewer), id=edge["node"]["id"]
    )
    assert body["data"] is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]
    assert (await post(http, LIST, headers))["data"]["alerts"]["edges"][0]["node"][
        "state"
    ] == "OPEN"


async def test_another_organisation_neither_sees_nor_changes_the_alert(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    await raise_one(app.state.runtime.session_factory)
    owner = await technician_of_station_owner(app)
    [edge] = (await post(http, LIST, owner))["data"]["alerts"]["edges"]
    stranger = await operator_headers(
        app.state.runtime.session_factory, app.state.runtime.tokens, role=OperatorRole.ADMIN
    )
    assert (await post(http, LIST, stranger))["data"]["alerts"]["edges"] == []
    for query, field in ((ACK, "acknowledgeAlert"), (RESOLVE, "resolveAlert")):
        result = (await post(http, query, stranger, id=edge["node"]["id"]))["data"][field]
        assert result["__typename"] == "AlertNotFound"
    assert (await post(http, LIST, owner))["data"]["alerts"]["edges"][0]["node"]["state"] == "OPEN"
