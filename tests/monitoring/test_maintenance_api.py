"""Maintenance windows and excluded outages through the operator API: a technician schedules,
flags, cancels and removes them; uptime (both figures) follows exactly; every change is
audited; viewers may not change them and another organisation sees and touches none."""

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import col, select
from starlette.applications import Starlette

from app.db.engine import SessionFactory
from app.db.models import AuditRecord
from app.domain.access import OperatorRole
from app.domain.enums import EvseStatus, OcppVersion
from app.events import InProcessEventBus
from app.services import availability, stations
from tests.access_builders import make_operator_user, operator_bearer, operator_headers, own_network
from tests.factories import make_location, make_station

T0 = datetime(2026, 4, 1, tzinfo=UTC)
STATION = base64.b64encode(b"ChargingStation:MX-1").decode()
REMOVED = """__typename ... on MaintenanceWindowPayload { window { id kind cause reason
  stationIdentity evseId from to createdBy } } ... on MaintenanceNotFound { message }"""
RESULT = f"{REMOVED} ... on InvalidMaintenance {{ message }}"
SCHEDULE = f"""mutation($input: ScheduleMaintenanceInput!) {{
  scheduleMaintenance(input: $input) {{ {RESULT} }} }}"""
FLAG = f"""mutation($input: FlagExcludedOutageInput!) {{
  flagExcludedOutage(input: $input) {{ {RESULT} }} }}"""
CANCEL = f"mutation($id: ID!) {{ cancelMaintenance(id: $id) {{ {REMOVED} }} }}"
REMOVE = f"mutation($id: ID!) {{ removeExcludedOutage(id: $id) {{ {REMOVED} }} }}"
UPTIME = """query($id: ID!, $from: DateTime!, $to: DateTime!) {
  uptime(stationId: $id, from: $from, to: $to) {
    total { uptimePercent excludedRemovedPercent excludedSeconds } } }"""
LIST = """query($from: DateTime!, $to: DateTime!) {
  maintenanceWindows(from: $from, to: $to) { kind cause reason from } }"""
WINDOW = {"from": T0.isoformat(), "to": (T0 + timedelta(hours=100)).isoformat()}


def h(hours: float) -> str:
    return (T0 + timedelta(hours=hours)).isoformat()


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def post(
    http: httpx.AsyncClient, query: str, headers: dict[str, str], **variables: Any
) -> Any:
    response = await http.post("/graphql", json={"query": query, "variables": variables},
                               headers=headers)  # fmt: skip
    return response.json()


async def build_history(factory: SessionFactory) -> None:
    """One EVSE: Faulted 10h-14h, station offline 40h-45h: 9 h outage of 100."""
    location = await make_location(factory)
    await make_station(factory, station_id="MX-1", evses=1, location=location)
    bus = InProcessEventBus()
    for status, at in [(EvseStatus.AVAILABLE, 0), (EvseStatus.OUTOFORDER, 10),
                       (EvseStatus.AVAILABLE, 14)]:  # fmt: skip
        await availability.record_status(
            session_factory=factory, bus=bus, station_id="MX-1", ocpp_evse_id=1, status=status,
            at=T0 + timedelta(hours=at),
        )  # fmt: skip
    await stations.record_disconnected(
        session_factory=factory, bus=bus, station_id="MX-1", at=T0 + timedelta(hours=40)
    )
    await stations.record_connected(
        session_factory=factory, bus=bus, station_id="MX-1", ocpp_version=OcppVersion.V16,
        at=T0 + timedelta(hours=45),
    )  # fmt: skip


async def uptime_of(http: httpx.AsyncClient, headers: dict[str, str]) -> tuple[float, float]:
    total = (await post(http, UPTIME, headers, id=STATION, **WINDOW))["data"]["uptime"]["total"]
    return total["uptimePercent"], total["excludedRemovedPercent"]


async def test_a_technician_excludes_time_and_uptime_follows(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    factory, tokens = app.state.runtime.session_factory, app.state.runtime.tokens
    await build_history(factory)
    tech = await make_operator_user(factory, role=OperatorRole.TECHNICIAN)
    await own_network(factory, tech.operator_id)
    as_tech = operator_bearer(tokens, tech)
    assert await uptime_of(http, as_tech) == (91.0, 91.0)

    body = await post(
        http,
        SCHEDULE,
        as_tech,
        input={"stationId": STATION, "from": h(12), "to": h(14), "reason": "contactor replacement"},
    )
    maintenance = body["data"]["scheduleMaintenance"]["window"]
    assert (maintenance["kind"], maintenance["cause"], maintenance["evseId"]) == (
        "SCHEDULED_MAINTENANCE",
        None,
        None,
    )
    assert maintenance["createdBy"] == f"operator-user:{tech.id}"
    # µ = (100 - (9 - 2)) / 100; the other figure = 91 up / (100 - 2).
    assert await uptime_of(http, as_tech) == (93.0, 92.8571)

    body = await post(
        http,
        FLAG,
        as_tech,
        input={
            "stationId": STATION,
            "from": h(40),
            "to": h(45),
            "kind": "GRID_OUTAGE",
            "note": "utility feeder trip",
        },
    )
    outage = body["data"]["flagExcludedOutage"]["window"]
    assert (outage["kind"], outage["cause"]) == ("EXCLUDED_OUTAGE", "GRID_OUTAGE")
    assert await uptime_of(http, as_tech) == (98.0, 97.8495)
    listed = (await post(http, LIST, as_tech, **WINDOW))["data"]["maintenanceWindows"]
    assert [(w["kind"], w["cause"], w["reason"]) for w in listed] == [
        ("SCHEDULED_MAINTENANCE", None, "contactor replacement"),
        ("EXCLUDED_OUTAGE", "GRID_OUTAGE", "utility feeder trip"),
    ]

    # The wrong mutation for the kind finds nothing and removes nothing.
    wrong = (await post(http, CANCEL, as_tech, id=outage["id"]))["data"]["cancelMaintenance"]
    assert wrong["__typename"] == "MaintenanceNotFound"
    cancelled = await post(http, CANCEL, as_tech, id=maintenance["id"])
    assert cancelled["data"]["cancelMaintenance"]["window"]["id"] == maintenance["id"]
    assert await uptime_of(http, as_tech) == (96.0, 95.7895)
    removed = await post(http, REMOVE, as_tech, id=outage["id"])
    assert removed["data"]["removeExcludedOutage"]["window"]["id"] == outage["id"]
    assert await uptime_of(http, as_tech) == (91.0, 91.0)
    again = (await post(http, REMOVE, as_tech, id=outage["id"]))["data"]["removeExcludedOutage"]
    assert again["__typename"] == "MaintenanceNotFound"

    async with factory() as db:
        records = (await db.exec(select(AuditRecord).order_by(col(AuditRecord.id)))).all()
    assert [(r.action, r.target, r.actor, r.operator_id) for r in records] == [
        (action, "station:MX-1", f"operator-user:{tech.id}", tech.operator_id)
        for action in ("uptime.scheduled_maintenance.add", "uptime.excluded_outage.add",
                       "uptime.scheduled_maintenance.remove", "uptime.excluded_outage.remove")
    ]  # fmt: skip


async def test_bad_spans_and_evses_are_refused_by_name(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    factory, tokens = app.state.runtime.session_factory, app.state.runtime.tokens
    await build_history(factory)
    tech = await make_operator_user(factory, role=OperatorRole.TECHNICIAN)
    await own_network(factory, tech.operator_id)
    as_tech = operator_bearer(tokens, tech)
    backwards = await post(
        http,
        SCHEDULE,
        as_tech,
        input={"stationId": STATION, "from": h(14), "to": h(12), "reason": "x"},
    )
    result = backwards["data"]["scheduleMaintenance"]
    assert result["__typename"] == "InvalidMaintenance"
    assert h(14) in result["message"]
    assert "after" in result["message"]
    foreign_evse = base64.b64encode(b"Evse:999999").decode()
    body = await post(
        http,
        FLAG,
        as_tech,
        input={
            "stationId": STATION,
            "evseId": foreign_evse,
            "from": h(1),
            "to": h(2),
            "kind": "VANDALISM",
        },
    )
    assert body["data"]["flagExcludedOutage"]["__typename"] == "MaintenanceNotFound"
    listed = (await post(http, LIST, as_tech, **WINDOW))["data"]["maintenanceWindows"]
    assert listed == []


async def test_viewers_cannot_and_other_organisations_see_nothing(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    factory, tokens = app.state.runtime.session_factory, app.state.runtime.tokens
    await build_history(factory)
    tech = await make_operator_user(factory, role=OperatorRole.TECHNICIAN)
    await own_network(factory, tech.operator_id)
    schedule = {"stationId": STATION, "from": h(12), "to": h(14), "reason": "x"}
    viewer = await operator_headers(factory, tokens, role=OperatorRole.VIEWER)
    body = await post(http, SCHEDULE, viewer, input=schedule)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    own = await post(http, SCHEDULE, operator_bearer(tokens, tech), input=schedule)
    window_id = own["data"]["scheduleMaintenance"]["window"]["id"]
    stranger = await operator_headers(factory, tokens, role=OperatorRole.ADMIN)
    body = await post(http, SCHEDULE, stranger, input=schedule)
    assert body["data"]["scheduleMaintenance"]["__typename"] == "MaintenanceNotFound"
    body = await post(http, CANCEL, stranger, id=window_id)
    assert body["data"]["cancelMaintenance"]["__typename"] == "MaintenanceNotFound"
    assert (await post(http, LIST, stranger, **WINDOW))["data"]["maintenanceWindows"] == []
    mine = (await post(http, LIST, operator_bearer(tokens, tech), **WINDOW))["data"]
    assert len(mine["maintenanceWindows"]) == 1
