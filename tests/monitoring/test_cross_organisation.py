"""Serviceability across organisations: with both networks full of alerts, history and logs,
organisation B's operator lists only B's and every by-id read of A's is NOT_FOUND."""

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.db.engine import SessionFactory
from app.domain.access import OperatorRole
from app.domain.enums import EvseStatus, MessageDirection, MessageKind
from app.services import availability
from app.services.message_log import LoggedFrame, write_frames
from tests.access_builders import make_operator_user, operator_bearer, own_network
from tests.factories import make_location, make_station

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=10)
WINDOW = {"from": T0.isoformat(), "to": (T0 + timedelta(hours=10)).isoformat()}
ALERTS = """query($filter: AlertFilter) {
  alerts(filter: $filter, first: 200) { edges { node { code stationIdentity } } } }"""
WORST = """query($from: DateTime!, $to: DateTime!) {
  worstEvses(from: $from, to: $to, first: 100) { evseUid } }"""
BY_ID = {
    "stationDiagnostics": "query($id: ID!) { stationDiagnostics(stationId: $id) { __typename } }",
    "stationMessages": "query($id: ID!) { stationMessages(stationId: $id) { hasNextPage } }",
    "stationConfiguration": "query($id: ID!) { stationConfiguration(stationId: $id) { key } }",
    "uptime": """query($id: ID!, $from: DateTime!, $to: DateTime!) {
      uptime(stationId: $id, from: $from, to: $to) { total { uptimePercent } } }""",
}


def gid(type_name: str, key: object) -> str:
    return base64.b64encode(f"{type_name}:{key}".encode()).decode()


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def post(http: httpx.AsyncClient, headers: dict[str, str], query: str, **v: Any) -> Any:
    response = await http.post("/graphql", json={"query": query, "variables": v}, headers=headers)
    assert response.status_code == 200
    return response.json()


async def network(runtime: Any, prefix: str) -> dict[str, str]:
    """A location with a station of two EVSEs, a fault on EVSE 1 (an open alert, lost uptime)
    and a logged message; returns its viewer's headers."""
    factory: SessionFactory = runtime.session_factory
    location = await make_location(factory, name=f"{prefix} site")
    station_id = f"{prefix}-1"
    await make_station(factory, station_id=station_id, evses=2, location=location)
    for evse, status, hours in [
        (1, EvseStatus.AVAILABLE, 0), (2, EvseStatus.AVAILABLE, 0), (1, EvseStatus.OUTOFORDER, 5),
    ]:  # fmt: skip
        await availability.record_status(
            session_factory=factory, bus=runtime.bus, station_id=station_id, ocpp_evse_id=evse,
            status=status, error_code="GroundFailure" if hours else None,
            at=T0 + timedelta(hours=hours),
        )  # fmt: skip
    frame = LoggedFrame(
        station_id=station_id, direction=MessageDirection.INBOUND, kind=MessageKind.CALL,
        unique_id="1", action="Heartbeat", payload="[]", at=T0,
    )  # fmt: skip
    await write_frames(session_factory=factory, frames=[frame])
    viewer = await make_operator_user(factory, role=OperatorRole.VIEWER)
    await own_network(factory, viewer.operator_id)
    return operator_bearer(runtime.tokens, viewer)


async def test_b_lists_only_its_own_and_reads_none_of_as(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    runtime = app.state.runtime
    as_a = await network(runtime, "A")
    as_b = await network(runtime, "B")

    for who, headers in (("A", as_a), ("B", as_b)):
        for filter_ in (None, {"states": ["OPEN"]}, {"stationIdentities": ["A-1", "B-1"]}):
            body = await post(http, headers, ALERTS, filter=filter_)
            listed = [e["node"]["stationIdentity"] for e in body["data"]["alerts"]["edges"]]
            assert listed == [f"{who}-1"], (who, filter_, listed)  # the fault, only their own
        worst = (await post(http, headers, WORST, **WINDOW))["data"]["worstEvses"]
        assert sorted(e["evseUid"] for e in worst) == [f"{who}-1*1", f"{who}-1*2"]

    for field, query in BY_ID.items():
        own = await post(http, as_b, query, id=gid("ChargingStation", "B-1"), **WINDOW)
        assert "errors" not in own, (field, own)
        theirs = await post(http, as_b, query, id=gid("ChargingStation", "A-1"), **WINDOW)
        assert theirs["data"] is None, (field, theirs)
        assert [e["extensions"]["code"] for e in theirs["errors"]] == ["NOT_FOUND"], field
