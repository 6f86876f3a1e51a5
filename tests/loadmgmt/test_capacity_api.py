"""The load-management operator API: setCapacityLimit's typed results, the node view, and
refusal of drivers and anonymous callers."""

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.db.engine import SessionFactory
from app.db.models.capacity import CapacityNodeKind
from app.db.types import utcnow
from app.services.capacity import create_node
from app.settings import Settings
from tests.factories import make_location
from tests.graphql.conftest import global_id
from tests.reservation_builders import bearer, make_driver

KEY = "operator-key-for-tests-0001"
SET = """mutation($node: ID!, $a: Float, $w: Int, $from: DateTime!, $to: DateTime!) {
  setCapacityLimit(input: {nodeId: $node, limitA: $a, limitW: $w, from: $from, to: $to}) {
    __typename
    ... on CapacityLimitPayload { limit { limitA source } node { limitA limitANow } }
    ... on CapacityNodeNotFound { message } ... on InvalidCapacityLimit { message } } }"""
NODE = """query($id: ID!) { capacityNode(id: $id) {
  name kind limitA limitANow allocatedA measuredW childIds
  limitsAhead { limitA validFrom } chargingLimits { limitA } } }"""
NODES = "query($id: ID!) { capacityNodes(locationId: $id) { name } }"
LIMIT = "query($id: ID!) { chargingLimit(sessionId: $id) { limitA } }"


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(_env_file=None, database_url=database_url, operator_api_key=KEY)


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


async def site(factory: SessionFactory) -> tuple[str, str, str]:
    """(location id, grid node id, circuit node id) as global ids."""
    location = await make_location(factory)
    grid = await create_node(
        session_factory=factory, name="grid", kind=CapacityNodeKind.GRID,
        location_id=location.id, limit_a=63.0,
    )  # fmt: skip
    circuit = await create_node(
        session_factory=factory, name="circuit", kind=CapacityNodeKind.CIRCUIT,
        parent_id=grid.id, limit_a=32.0,
    )  # fmt: skip
    return (
        global_id("Location", location.id),
        global_id("CapacityNode", grid.id),
        global_id("CapacityNode", circuit.id),
    )


def window(**shift: float) -> dict[str, str]:
    now = utcnow()
    start = now + timedelta(minutes=shift.get("start_min", -1))
    end = now + timedelta(minutes=shift.get("end_min", 60))
    return {"from": start.isoformat(), "to": end.isoformat()}


async def test_a_limit_in_force_lowers_the_node_and_shows_ahead(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    location, grid, circuit = await site(app.state.runtime.session_factory)
    headers = {"X-Operator-Key": KEY}
    body = await post(http, SET, headers, node=circuit, a=20.0, **window())
    assert body["data"]["setCapacityLimit"] == {
        "__typename": "CapacityLimitPayload",
        "limit": {"limitA": 20.0, "source": "OPERATOR"},
        "node": {"limitA": 32.0, "limitANow": 20.0},
    }
    later = await post(http, SET, headers, node=circuit, a=10.0, **window(start_min=30))
    assert later["data"]["setCapacityLimit"]["node"]["limitANow"] == 20.0  # not yet in force
    view = (await post(http, NODE, headers, id=circuit))["data"]["capacityNode"]
    assert [x["limitA"] for x in view["limitsAhead"]] == [20.0, 10.0]
    assert view | {"limitsAhead": None} == {
        "name": "circuit", "kind": "CIRCUIT", "limitA": 32.0, "limitANow": 20.0,
        "allocatedA": 0.0, "measuredW": 0, "childIds": [], "limitsAhead": None,
        "chargingLimits": [],
    }  # fmt: skip
    grid_view = (await post(http, NODE, headers, id=grid))["data"]["capacityNode"]
    assert grid_view["childIds"] == [circuit]
    names = (await post(http, NODES, headers, id=location))["data"]["capacityNodes"]
    assert [n["name"] for n in names] == ["grid", "circuit"]


@pytest.mark.parametrize(
    ("variables", "typename", "message"),
    [
        pytest.param(
            {"a": 10.0, "w": 5000}, "InvalidCapacityLimit", "expected exactly one", id="both"
        ),
        pytest.param({}, "InvalidCapacityLimit", "expected exactly one", id="neither"),
        pytest.param({"a": -1.0}, "InvalidCapacityLimit", "expected a limit >= 0", id="negative"),
        pytest.param(
            {"a": 10.0, **window(start_min=10, end_min=5)},
            "InvalidCapacityLimit", "expected from < to", id="backwards",
        ),
        pytest.param(
            {"a": 10.0, "node": "bm9wZQ=="}, "CapacityNodeNotFound", "not found", id="garbage-id"
        ),
        pytest.param(
            {"a": 10.0, "node": global_id("CapacityNode", 99999)},
            "CapacityNodeNotFound", "not found", id="missing",
        ),
    ],
)  # fmt: skip
async def test_bad_limits_get_typed_failures(
    app: Starlette, http: httpx.AsyncClient, variables: dict[str, Any], typename: str, message: str
) -> None:
    _, _, circuit = await site(app.state.runtime.session_factory)
    body = await post(
        http, SET, {"X-Operator-Key": KEY}, **({"node": circuit} | window() | variables)
    )
    result = body["data"]["setCapacityLimit"]
    assert result["__typename"] == typename
    assert message in result["message"]


@pytest.mark.parametrize(
    "query",
    [SET, NODE, NODES, LIMIT],
    ids=["setCapacityLimit", "capacityNode", "capacityNodes", "chargingLimit"],
)
@pytest.mark.parametrize("caller", ["anonymous", "driver", "wrong-key"])
async def test_drivers_and_anonymous_callers_are_refused(
    app: Starlette, http: httpx.AsyncClient, query: str, caller: str
) -> None:
    runtime = app.state.runtime
    location, _, circuit = await site(runtime.session_factory)
    headers: dict[str, str] = {}
    if caller == "driver":
        driver_id, _ = await make_driver(runtime.session_factory)
        headers = bearer(runtime.tokens, driver_id)
    elif caller == "wrong-key":
        headers = {"X-Operator-Key": "not-the-key"}
    body = await post(
        http, query, headers, node=circuit, id=circuit, a=1.0, **window()
    ) if query is not NODES else await post(http, query, headers, id=location)  # fmt: skip
    assert not any((body["data"] or {}).values())  # nullable fields come back null
    (error,) = body["errors"]
    assert "X-Operator-Key" in error["message"]


async def test_a_tree_without_a_location_still_shows_its_children(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    factory = app.state.runtime.session_factory
    root = await create_node(session_factory=factory, name="feeder", kind=CapacityNodeKind.GRID)
    child = await create_node(
        session_factory=factory, name="branch", kind=CapacityNodeKind.CIRCUIT, parent_id=root.id
    )
    body = await post(http, NODE, {"X-Operator-Key": KEY}, id=global_id("CapacityNode", root.id))
    assert body["data"]["capacityNode"]["childIds"] == [global_id("CapacityNode", child.id)]
