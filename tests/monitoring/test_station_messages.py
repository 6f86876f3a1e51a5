"""`stationMessages`: a station's OCPP message log for its operator, newest first, paged by id,
filtered by action; another organisation gets NOT_FOUND."""

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.domain.access import OperatorRole
from app.domain.enums import MessageDirection, MessageKind
from app.services.message_log import LoggedFrame, write_frames
from tests.access_builders import make_operator_user, operator_bearer, operator_headers, own_network
from tests.factories import make_location, make_station

T0 = datetime(2026, 5, 1, tzinfo=UTC)
STATION = base64.b64encode(b"ChargingStation:ML-1").decode()
QUERY = """query($id: ID!, $first: Int!, $before: Int, $action: String) {
  stationMessages(stationId: $id, first: $first, before: $before, action: $action) {
    hasNextPage messages { id at direction kind action uniqueId payload } } }"""


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def post(http: httpx.AsyncClient, headers: dict[str, str], **variables: Any) -> Any:
    response = await http.post(
        "/graphql", json={"query": QUERY, "variables": variables}, headers=headers
    )
    return response.json()


async def test_newest_first_paged_and_filtered(app: Starlette, http: httpx.AsyncClient) -> None:
    factory, tokens = app.state.runtime.session_factory, app.state.runtime.tokens
    await make_station(factory, station_id="ML-1", location=await make_location(factory))
    await make_station(factory, station_id="ML-2")
    actions = ["BootNotification", "Heartbeat", "StatusNotification", "Heartbeat", "Heartbeat"]
    frames = [
        LoggedFrame(station_id="ML-1", direction=MessageDirection.INBOUND, kind=MessageKind.CALL,
                    unique_id=f"u{i}", action=action, payload=f'[2,"u{i}","{action}",{{}}]',
                    at=T0 + timedelta(seconds=i))
        for i, action in enumerate(actions)
    ] + [LoggedFrame(station_id="ML-2", direction=MessageDirection.INBOUND,
                     kind=MessageKind.CALL, action="Heartbeat", payload="[]", at=T0)]  # fmt: skip
    await write_frames(session_factory=factory, frames=frames)
    viewer = await make_operator_user(factory, role=OperatorRole.VIEWER)
    await own_network(factory, viewer.operator_id)
    as_viewer = operator_bearer(tokens, viewer)

    page = (await post(http, as_viewer, id=STATION, first=2))["data"]["stationMessages"]
    assert [m["uniqueId"] for m in page["messages"]] == ["u4", "u3"]
    assert page["hasNextPage"] is True
    oldest = page["messages"][-1]["id"]
    rest = (await post(http, as_viewer, id=STATION, first=10, before=oldest))["data"]
    assert [m["uniqueId"] for m in rest["stationMessages"]["messages"]] == ["u2", "u1", "u0"]
    assert rest["stationMessages"]["hasNextPage"] is False
    beats = (await post(http, as_viewer, id=STATION, first=10, action="Heartbeat"))["data"]
    assert [m["uniqueId"] for m in beats["stationMessages"]["messages"]] == ["u4", "u3", "u1"]
    first = beats["stationMessages"]["messages"][0]
    assert (first["direction"], first["kind"], first["payload"]) == (
        "INBOUND", "CALL", '[2,"u4","Heartbeat",{}]',
    )  # fmt: skip

    stranger = await operator_headers(factory, tokens, role=OperatorRole.ADMIN)
    body = await post(http, stranger, id=STATION, first=10)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    too_many = await post(http, as_viewer, id=STATION, first=201)
    assert "201" in too_many["errors"][0]["message"]
