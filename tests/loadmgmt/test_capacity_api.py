"""The load-management operator API: setCapacityLimit's typed results, the node view, and
refusal of drivers, anonymous callers, viewers (for changes) and other organisations."""

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.db.engine import SessionFactory
from app.db.models.capacity import CapacityNodeKind
from app.db.types import utcnow
from app.domain.access import OperatorRole
from app.services import capacity_views
from app.services.capacity import create_node
from tests.access_builders import make_operator_user, operator_bearer, operator_headers, own_network
from tests.factories import make_location
from tests.graphql.conftest import global_id
from tests.reservation_builders import bearer, make_driver

Headers = dict[str, str]
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
    """(location id, grid node id, circuit node id) as global ids; ADMIN's organisation's."""
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


async def admin_of_the_site(app: Starlette, role: OperatorRole = OperatorRole.ADMIN) -> Headers:
    """An operator user of the organisation that owns every location built so far."""
    factory = app.state.runtime.session_factory
    user = await make_operator_user(factory, role=role)
    await own_network(factory, user.operator_id)
    return operator_bearer(app.state.runtime.tokens, user)


async def test_a_limit_in_force_lowers_the_node_and_shows_ahead(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    location, grid, circuit = await site(app.state.runtime.session_factory)
    headers = await admin_of_the_site(app)
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


SCHEDULE = """query($id: ID!) { capacityNode(id: $id) {
  limitSchedule { start end limitA limitW } } }"""


async def test_the_limit_schedule_shows_the_effective_limit_now_and_ahead(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    _, _, circuit = await site(app.state.runtime.session_factory)
    headers = await admin_of_the_site(app)
    now_window, later_window = window(), window(start_min=30, end_min=90)
    await post(http, SET, headers, node=circuit, a=20.0, **now_window)
    await post(http, SET, headers, node=circuit, a=10.0, **later_window)
    periods = (await post(http, SCHEDULE, headers, id=circuit))["data"]["capacityNode"][
        "limitSchedule"
    ]
    # 20 A now; 10 A from +30 min (the lowest binds, and it outlasts the 20 A window, so the
    # two periods from +30 to +90 merge); the static 32 A from +90 min on.
    assert [(p["limitA"], p["limitW"]) for p in periods] == [(20.0, None), (10.0, None),
                                                              (32.0, None)]  # fmt: skip
    assert [p["start"] for p in periods[1:]] == [later_window["from"], later_window["to"]]
    assert [p["end"] for p in periods] == [later_window["from"], later_window["to"], None]


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
    headers = await admin_of_the_site(app)
    body = await post(http, SET, headers, **({"node": circuit} | window() | variables))
    result = body["data"]["setCapacityLimit"]
    assert result["__typename"] == typename
    assert message in result["message"]


@pytest.mark.parametrize(
    "query",
    [SET, NODE, NODES, LIMIT],
    ids=["setCapacityLimit", "capacityNode", "capacityNodes", "chargingLimit"],
)
@pytest.mark.parametrize("caller", ["anonymous", "driver", "bad-token"])
async def test_drivers_and_anonymous_callers_are_refused(
    app: Starlette, http: httpx.AsyncClient, query: str, caller: str
) -> None:
    runtime = app.state.runtime
    location, _, circuit = await site(runtime.session_factory)
    headers: dict[str, str] = {}
    if caller == "driver":
        driver_id, _ = await make_driver(runtime.session_factory)
        headers = bearer(runtime.tokens, driver_id)
    elif caller == "bad-token":
        headers = {"Authorization": "Bearer not-a-token"}
    body = await post(
        http, query, headers, node=circuit, id=circuit, a=1.0, **window()
    ) if query is not NODES else await post(http, query, headers, id=location)  # fmt: skip
    assert not any((body["data"] or {}).values())  # nullable fields come back null
    (error,) = body["errors"]
    expected = "FORBIDDEN" if caller == "driver" else "UNAUTHENTICATED"
    assert error["extensions"]["code"] == expected


@pytest.mark.parametrize(
    "query",
    [SET, NODE, NODES, LIMIT],
    ids=["setCapacityLimit", "capacityNode", "capacityNodes", "chargingLimit"],
)
async def test_another_organisation_sees_and_changes_nothing(
    app: Starlette, http: httpx.AsyncClient, query: str
) -> None:
    runtime = app.state.runtime
    location, _, circuit = await site(runtime.session_factory)
    owner = await admin_of_the_site(app)
    await post(http, SET, owner, node=circuit, a=20.0, **window())
    stranger = await operator_headers(runtime.session_factory, runtime.tokens)
    body = await post(
        http, query, stranger, node=circuit, id=circuit, a=1.0, **window()
    ) if query is not NODES else await post(http, query, stranger, id=location)  # fmt: skip
    assert "errors" not in body, body
    result = next(iter(body["data"].values()))
    assert result in (None, []) or result["__typename"] == "CapacityNodeNotFound"
    view = (await post(http, NODE, owner, id=circuit))["data"]["capacityNode"]
    assert view["limitANow"] == 20.0


async def test_a_viewer_may_read_but_not_set_limits(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    _, _, circuit = await site(app.state.runtime.session_factory)
    viewer = await admin_of_the_site(app, OperatorRole.VIEWER)
    assert (await post(http, NODE, viewer, id=circuit))["data"]["capacityNode"]["name"] == "circuit"
    body = await post(http, SET, viewer, node=circuit, a=1.0, **window())
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"]


async def test_a_tree_without_a_location_still_shows_its_children(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    """Its children are found (IS NULL, not = NULL); it belongs to no organisation, so no
    operator user sees it."""
    factory = app.state.runtime.session_factory
    root = await create_node(session_factory=factory, name="feeder", kind=CapacityNodeKind.GRID)
    child = await create_node(
        session_factory=factory, name="branch", kind=CapacityNodeKind.CIRCUIT, parent_id=root.id
    )
    assert root.id is not None
    view = await capacity_views.node_view(session_factory=factory, node_id=root.id, now=utcnow())
    assert [n.id for n in view.children] == [child.id]
    headers = await admin_of_the_site(app)
    body = await post(http, NODE, headers, id=global_id("CapacityNode", root.id))
    assert body["data"]["capacityNode"] is None
