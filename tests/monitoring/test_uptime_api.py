"""Uptime from a known history written through the real services: status changes, a station
outage, a maintenance window; exact NEVI percentages through the operator API."""

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import col, select
from starlette.applications import Starlette

from app.db.engine import SessionFactory
from app.db.models import EvseStatusInterval
from app.domain.access import OperatorRole
from app.domain.enums import EvseStatus, OcppVersion
from app.domain.errors import NotFound
from app.domain.uptime import ExclusionKind
from app.events import InProcessEventBus
from app.services import availability, stations, uptime
from app.services.alerts import NETWORK
from tests.access_builders import make_operator_user, operator_bearer, operator_headers, own_network
from tests.factories import make_location, make_station

T0 = datetime(2026, 3, 1, tzinfo=UTC)
UPTIME = """query($id: ID!, $from: DateTime!, $to: DateTime!) {
  uptime(stationId: $id, from: $from, to: $to) {
    total { uptimePercent outageSeconds excludedSeconds }
    evses { evseUid uptime { uptimePercent outageSeconds excludedSeconds offlineSeconds
                             faultedSeconds } } } }"""
WORST = """query($from: DateTime!, $to: DateTime!) {
  worstEvses(from: $from, to: $to, first: 1) { evseUid uptime { uptimePercent } } }"""


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def gid(type_name: str, key: object) -> str:
    return base64.b64encode(f"{type_name}:{key}".encode()).decode()


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def post(
    http: httpx.AsyncClient, query: str, headers: dict[str, str] | None, **variables: Any
) -> Any:
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers or {}
    )
    return response.json()


async def build_history(factory: SessionFactory) -> None:
    """EVSE 1: Faulted 10h-14h, maintenance 12h-14h; both EVSEs: station offline 40h-45h."""
    location = await make_location(factory)
    await make_station(factory, station_id="UP-1", evses=2, location=location)
    bus = InProcessEventBus()
    for evse, status, at in [
        (1, EvseStatus.AVAILABLE, 0), (2, EvseStatus.AVAILABLE, 0),
        (1, EvseStatus.OUTOFORDER, 10), (1, EvseStatus.AVAILABLE, 14),
    ]:  # fmt: skip
        await availability.record_status(
            session_factory=factory, bus=bus, station_id="UP-1", ocpp_evse_id=evse,
            status=status, at=h(at),
        )  # fmt: skip
    await stations.record_disconnected(
        session_factory=factory, bus=bus, station_id="UP-1", at=h(40)
    )
    await stations.record_connected(
        session_factory=factory, bus=bus, station_id="UP-1", ocpp_version=OcppVersion.V16,
        at=h(45),
    )  # fmt: skip
    async with factory() as db:
        evse_1 = (
            await db.exec(select(EvseStatusInterval.evse_id).order_by(col(EvseStatusInterval.id)))
        ).first()
    await uptime.add_maintenance_window(
        session_factory=factory, scope=NETWORK, station_id="UP-1", evse_id=evse_1,
        kind=ExclusionKind.SCHEDULED_MAINTENANCE, starts_at=h(12), ends_at=h(14),
        reason="contactor replacement", by="noc",
    )  # fmt: skip


async def test_status_changes_are_kept_as_closed_intervals(session_factory: SessionFactory) -> None:
    await build_history(session_factory)
    async with session_factory() as db:
        rows = (
            await db.exec(select(EvseStatusInterval).order_by(col(EvseStatusInterval.id)))
        ).all()
    first = [(r.status, r.started_at, r.ended_at) for r in rows if r.evse_id == rows[0].evse_id]
    assert first == [
        (EvseStatus.AVAILABLE, h(0), h(10)),
        (EvseStatus.OUTOFORDER, h(10), h(14)),
        (EvseStatus.AVAILABLE, h(14), None),
    ]


async def test_uptime_of_a_station_and_the_worst_evse(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    factory, tokens = app.state.runtime.session_factory, app.state.runtime.tokens
    await build_history(factory)
    viewer = await make_operator_user(factory, role=OperatorRole.VIEWER)
    await own_network(factory, viewer.operator_id)
    as_viewer = operator_bearer(tokens, viewer)
    window = {"from": h(0).isoformat(), "to": h(100).isoformat()}
    body = await post(http, UPTIME, as_viewer, id=gid("ChargingStation", "UP-1"), **window)
    report = body["data"]["uptime"]
    hour = 3600.0
    assert report["total"] == {
        "uptimePercent": 94.0, "outageSeconds": 14 * hour, "excludedSeconds": 2 * hour,
    }  # fmt: skip
    assert report["evses"] == [
        {"evseUid": "UP-1*1", "uptime": {
            "uptimePercent": 93.0, "outageSeconds": 9 * hour, "excludedSeconds": 2 * hour,
            "offlineSeconds": 5 * hour, "faultedSeconds": 4 * hour}},
        {"evseUid": "UP-1*2", "uptime": {
            "uptimePercent": 95.0, "outageSeconds": 5 * hour, "excludedSeconds": 0.0,
            "offlineSeconds": 5 * hour, "faultedSeconds": 0.0}},
    ]  # fmt: skip
    worst = (await post(http, WORST, as_viewer, **window))["data"]["worstEvses"]
    assert worst == [{"evseUid": "UP-1*1", "uptime": {"uptimePercent": 93.0}}]
    stranger = await operator_headers(factory, tokens, role=OperatorRole.ADMIN)
    assert (await post(http, WORST, stranger, **window))["data"]["worstEvses"] == []
    body = await post(http, UPTIME, stranger, id=gid("ChargingStation", "UP-1"), **window)
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("headers", "code"),
    [(None, "UNAUTHENTICATED"), ({"Authorization": "Bearer not-a-token"}, "UNAUTHENTICATED")],
    ids=["anonymous", "bad-token"],
)
async def test_uptime_needs_an_operator_user(
    app: Starlette, http: httpx.AsyncClient, headers: dict[str, str] | None, code: str
) -> None:
    await build_history(app.state.runtime.session_factory)
    window = {"from": h(0).isoformat(), "to": h(100).isoformat()}
    for query, variables in [(UPTIME, {"id": gid("ChargingStation", "UP-1")}), (WORST, {})]:
        body = await post(http, query, headers, **window, **variables)
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == code


async def test_a_maintenance_window_needs_a_known_station(session_factory: SessionFactory) -> None:
    with pytest.raises(NotFound):
        await uptime.add_maintenance_window(
            session_factory=session_factory, scope=NETWORK, station_id="NOPE", evse_id=None,
            kind=ExclusionKind.EXCLUDED_OUTAGE, starts_at=h(0), ends_at=h(1), reason="", by=None,
        )  # fmt: skip
