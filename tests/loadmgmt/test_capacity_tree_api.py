"""Operators describe the electrical tree through GraphQL: create, update (move, rewire, base
load), delete; bad trees are refused with a message naming the bad value; other organisations
and viewers change nothing."""

import base64
from typing import Any

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette

from app.db.models import CapacityNode, Evse, Location
from app.db.models.capacity import PhaseWiring
from app.domain.access import OperatorRole
from app.services.capacity import LIMITS_CHANGED
from tests.access_builders import operator_headers
from tests.factories import make_station
from tests.graphql.conftest import global_id
from tests.loadmgmt.test_capacity_api import admin_of_the_site, http, post, site

__all__ = ["http"]  # the fixture, imported for this module's tests

CREATE = """mutation($input: CreateCapacityNodeInput!) { createCapacityNode(input: $input) {
  __typename ... on CapacityNodePayload { node { id name kind parentId limitA } }
  ... on CapacityNodeNotFound { message } ... on InvalidCapacityNode { message } } }"""
UPDATE = """mutation($input: UpdateCapacityNodeInput!) { updateCapacityNode(input: $input) {
  __typename ... on CapacityNodePayload { node { id name parentId limitA limitW } }
  ... on CapacityNodeNotFound { message } ... on InvalidCapacityNode { message } } }"""
DELETE = """mutation($id: ID!) { deleteCapacityNode(nodeId: $id) {
  __typename ... on CapacityNodeDeleted { nodeId }
  ... on CapacityNodeNotFound { message } ... on InvalidCapacityNode { message } } }"""


async def evse_gid(app: Starlette, location_id: str) -> tuple[str, int]:
    """A station at the site's location; (its EVSE's global id, the EVSE's key)."""
    factory = app.state.runtime.session_factory
    async with factory() as db:
        location = await db.get(Location, int(_key(location_id)))
    station = await make_station(factory, location=location)
    async with factory() as db:
        evse = (await db.exec(select(Evse).where(Evse.station_id == station.id))).one()
    assert evse.id is not None
    return global_id("Evse", evse.id), evse.id


def _key(gid: str) -> str:
    return base64.b64decode(gid).decode().split(":", 1)[1]


async def test_an_operator_builds_rewires_and_prunes_a_tree(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    runtime = app.state.runtime
    location, grid, circuit = await site(runtime.session_factory)
    headers = await admin_of_the_site(app)
    evse, evse_key = await evse_gid(app, location)
    async with runtime.bus.subscribe(LIMITS_CHANGED) as events:
        feeder = (await post(http, CREATE, headers, input={
            "name": "feeder B", "kind": "CIRCUIT", "parentId": grid, "limitA": 25.0,
        }))["data"]["createCapacityNode"]  # fmt: skip
        assert feeder["__typename"] == "CapacityNodePayload", feeder
        assert feeder["node"] | {"id": None} == {
            "id": None,
            "name": "feeder B",
            "kind": "CIRCUIT",
            "parentId": grid,
            "limitA": 25.0,
        }
        leaf = (await post(http, CREATE, headers, input={
            "name": "EVSE 1", "kind": "EVSE", "parentId": circuit, "evseId": evse,
            "phases": "L1", "currentStepsA": [16, 6, 10, 16], "baseLoadA": 0.0,
        }))["data"]["createCapacityNode"]  # fmt: skip
        assert leaf["__typename"] == "CapacityNodePayload", leaf
        moved = (await post(http, UPDATE, headers, input={
            "nodeId": leaf["node"]["id"], "parentId": feeder["node"]["id"], "name": "EVSE 1b",
            "phases": "L2L3", "baseLoadA": 2.5,
        }))["data"]["updateCapacityNode"]  # fmt: skip
        assert moved["node"]["parentId"] == feeder["node"]["id"]
        cleared = (await post(http, UPDATE, headers, input={
            "nodeId": feeder["node"]["id"], "limitA": None, "limitW": 11000,
        }))["data"]["updateCapacityNode"]  # fmt: skip
        assert cleared["node"] | {"id": None, "parentId": None} == {
            "id": None,
            "parentId": None,
            "name": "feeder B",
            "limitA": None,
            "limitW": 11000,
        }
        refused = (await post(http, DELETE, headers, id=feeder["node"]["id"]))["data"]
        assert refused["deleteCapacityNode"]["__typename"] == "InvalidCapacityNode"
        assert "1 child node(s)" in refused["deleteCapacityNode"]["message"]
        gone = (await post(http, DELETE, headers, id=leaf["node"]["id"]))["data"]
        assert gone["deleteCapacityNode"] == {
            "__typename": "CapacityNodeDeleted",
            "nodeId": leaf["node"]["id"],
        }
        kinds = []
        for _ in range(5):  # two adds, two changes, one removal: each recomputes the plan
            _, payload = await anext(aiter(events))
            kinds.append(payload["type"])
    assert kinds == ["CapacityNodeAdded", "CapacityNodeAdded", "CapacityNodeChanged",
                     "CapacityNodeChanged", "CapacityNodeRemoved"]  # fmt: skip
    async with runtime.session_factory() as db:
        rows = (await db.exec(select(CapacityNode).where(CapacityNode.evse_id == evse_key))).all()
    assert rows == []


async def test_a_moved_node_keeps_its_wiring(app: Starlette, http: httpx.AsyncClient) -> None:
    runtime = app.state.runtime
    location, grid, circuit = await site(runtime.session_factory)
    headers = await admin_of_the_site(app)
    evse, evse_key = await evse_gid(app, location)
    leaf = (await post(http, CREATE, headers, input={
        "name": "E", "kind": "EVSE", "parentId": circuit, "evseId": evse, "phases": "L3L1",
        "currentStepsA": [6, 8, 16],
    }))["data"]["createCapacityNode"]  # fmt: skip
    await post(http, UPDATE, headers, input={"nodeId": leaf["node"]["id"], "parentId": grid})
    async with runtime.session_factory() as db:
        row = (await db.exec(select(CapacityNode).where(CapacityNode.evse_id == evse_key))).one()
    assert (row.phases, row.current_steps_a, row.parent_id) == (
        PhaseWiring.L3L1,
        "6,8,16",
        int(_key(grid)),
    )


@pytest.mark.parametrize(
    ("build", "typename", "message"),
    [
        pytest.param(lambda g, c, e: (CREATE, {"name": "x", "kind": "EVSE", "parentId": c}),
                     "InvalidCapacityNode", "names its EVSE", id="evse-node-without-evse"),
        pytest.param(lambda g, c, e: (CREATE, {"name": "x", "kind": "CIRCUIT", "parentId": c,
                                               "limitA": -3.0}),
                     "InvalidCapacityNode", "expected >= 0", id="negative-limit"),
        pytest.param(lambda g, c, e: (CREATE, {"name": "x", "kind": "CIRCUIT", "parentId": c,
                                               "minCurrentA": 20.0, "maxCurrentA": 10.0}),
                     "InvalidCapacityNode", "expected 0 <= min <= max", id="min-above-max"),
        pytest.param(lambda g, c, e: (CREATE, {"name": "x", "kind": "CIRCUIT"}),
                     "InvalidCapacityNode", "a top node needs a location", id="root-nowhere"),
        pytest.param(lambda g, c, e: (CREATE, {"name": "x", "kind": "CIRCUIT",
                                               "parentId": global_id("CapacityNode", 99999)}),
                     "CapacityNodeNotFound", "not found", id="unknown-parent"),
        pytest.param(lambda g, c, e: (UPDATE, {"nodeId": g, "parentId": c}),
                     "InvalidCapacityNode", "cycle", id="cycle-through-child"),
        pytest.param(lambda g, c, e: (UPDATE, {"nodeId": g, "parentId": g}),
                     "InvalidCapacityNode", "cycle", id="own-parent"),
        pytest.param(lambda g, c, e: (UPDATE, {"nodeId": c, "parentId": e}),
                     "InvalidCapacityNode", "is an EVSE node", id="under-an-evse"),
        pytest.param(lambda g, c, e: (UPDATE, {"nodeId": c, "baseLoadW": -5}),
                     "InvalidCapacityNode", "base_load_w=-5", id="negative-base-load"),
        pytest.param(lambda g, c, e: (UPDATE, {"nodeId": c, "name": None}),
                     "InvalidCapacityNode", "name=null", id="null-name"),
        pytest.param(lambda g, c, e: (UPDATE, {"nodeId": c, "currentStepsA": [-6.0]}),
                     "InvalidCapacityNode", "expected amps >= 0", id="negative-step"),
    ],
)  # fmt: skip
async def test_a_bad_tree_is_refused_with_the_bad_value_named(
    app: Starlette, http: httpx.AsyncClient, build: Any, typename: str, message: str
) -> None:
    runtime = app.state.runtime
    location, grid, circuit = await site(runtime.session_factory)
    headers = await admin_of_the_site(app)
    evse, _ = await evse_gid(app, location)
    leaf = (await post(http, CREATE, headers, input={
        "name": "E", "kind": "EVSE", "parentId": circuit, "evseId": evse,
    }))["data"]["createCapacityNode"]["node"]["id"]  # fmt: skip
    query, variables = build(grid, circuit, leaf)
    body = await post(http, query, headers, input=variables)
    result = next(iter(body["data"].values()))
    assert result["__typename"] == typename, result
    assert message in result["message"]
    async with runtime.session_factory() as db:
        tree = {(n.name, n.parent_id) for n in (await db.exec(select(CapacityNode))).all()}
    assert tree == {("grid", None), ("circuit", int(_key(grid))), ("E", int(_key(circuit)))}


async def test_an_evse_is_attached_once(app: Starlette, http: httpx.AsyncClient) -> None:
    location, _, circuit = await site(app.state.runtime.session_factory)
    headers = await admin_of_the_site(app)
    evse, _ = await evse_gid(app, location)
    new = {"name": "E", "kind": "EVSE", "parentId": circuit, "evseId": evse}
    first = await post(http, CREATE, headers, input=new)
    assert first["data"]["createCapacityNode"]["__typename"] == "CapacityNodePayload"
    again = (await post(http, CREATE, headers, input=new))["data"]["createCapacityNode"]
    assert again["__typename"] == "InvalidCapacityNode"
    assert "already attached" in again["message"]


@pytest.mark.parametrize("who", ["stranger", "viewer"])
async def test_other_organisations_and_viewers_change_nothing(
    app: Starlette, http: httpx.AsyncClient, who: str
) -> None:
    runtime = app.state.runtime
    _, grid, circuit = await site(runtime.session_factory)
    owner = await admin_of_the_site(app)
    if who == "stranger":
        headers = await operator_headers(runtime.session_factory, runtime.tokens)
    else:
        headers = await admin_of_the_site(app, OperatorRole.VIEWER)
    attempts = [
        (CREATE, {"input": {"name": "x", "kind": "CIRCUIT", "parentId": grid}}),
        (UPDATE, {"input": {"nodeId": circuit, "limitA": 999.0}}),
        (DELETE, {"id": circuit}),
    ]
    for query, variables in attempts:
        body = await post(http, query, headers, **variables)
        if who == "viewer":
            assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        else:
            assert next(iter(body["data"].values()))["__typename"] == "CapacityNodeNotFound"
    check = await post(http, UPDATE, owner, input={"nodeId": circuit})
    assert check["data"]["updateCapacityNode"]["node"]["limitA"] == 32.0
    async with runtime.session_factory() as db:
        assert len((await db.exec(select(CapacityNode))).all()) == 2
