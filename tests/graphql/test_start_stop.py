"""startSession / stopSession over HTTP: typed refusals, access, idempotency, no charger."""

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette

from app.db.models import ChargingSession, ChargingStation, Evse, RemoteCommand
from app.domain.enums import EvseStatus
from app.domain.reservations import ReservationStatus
from app.main import Runtime
from tests.factories import make_station
from tests.graphql.conftest import global_id
from tests.reservation_builders import bearer, make_driver, make_reservation

START = """
mutation S($input: StartSessionInput!) {
  startSession(input: $input) {
    __typename
    ... on CommandPayload { commandId status kind clientMutationId }
    ... on EvseNotFound { message }
    ... on EvseUnavailable { message reason }
    ... on EvseReserved { message reservedUntil }
    ... on InvalidStartSessionInput { message }
  }
}
"""
STOP = """
mutation S($input: StopSessionInput!) {
  stopSession(input: $input) {
    __typename
    ... on CommandPayload { commandId }
    ... on SessionNotFound { message }
    ... on SessionNotActive { message }
  }
}
"""


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


def runtime(app: Starlette) -> Runtime:
    value: Runtime = app.state.runtime
    return value


async def post(
    http: httpx.AsyncClient, query: str, headers: dict[str, str] | None, **variables: Any
) -> dict[str, Any]:
    response = await http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers or {}
    )
    body: dict[str, Any] = response.json()
    return body


async def online_evse(app: Starlette, *, status: EvseStatus = EvseStatus.AVAILABLE) -> int:
    """An EVSE whose station the database believes online (no socket in this process)."""
    factory = runtime(app).session_factory
    station = await make_station(factory)
    async with factory() as db:
        row = await db.get(ChargingStation, station.id)
        assert row is not None
        row.online = True
        evse = (await db.exec(select(Evse).where(Evse.station_id == station.id))).one()
        evse.status = status
        await db.commit()
        assert evse.id is not None
        return evse.id


def start_input(evse_id: int, **extra: Any) -> dict[str, Any]:
    return {"evseId": global_id("Evse", evse_id), "clientMutationId": "m-1", **extra}


async def test_start_needs_a_logged_in_driver(app: Starlette, http: httpx.AsyncClient) -> None:
    evse_id = await online_evse(app)
    body = await post(http, START, None, input=start_input(evse_id))
    assert body["data"] is None
    assert "log in" in body["errors"][0]["message"]
    async with runtime(app).session_factory() as db:
        assert (await db.exec(select(RemoteCommand))).all() == []


@pytest.mark.parametrize(
    ("status", "online", "reason"),
    [
        (EvseStatus.AVAILABLE, False, "OFFLINE"),
        (EvseStatus.INOPERATIVE, True, "OUT_OF_ORDER"),
        (EvseStatus.OUTOFORDER, True, "OUT_OF_ORDER"),
    ],
    ids=["station-offline", "inoperative", "out-of-order"],
)
async def test_start_on_an_unusable_evse_is_evse_unavailable(
    app: Starlette, http: httpx.AsyncClient, status: EvseStatus, online: bool, reason: str
) -> None:
    evse_id = await online_evse(app, status=status)
    if not online:
        async with runtime(app).session_factory() as db:
            evse = await db.get(Evse, evse_id)
            assert evse is not None
            station = await db.get(ChargingStation, evse.station_id)
            assert station is not None
            station.online = False
            await db.commit()
    driver_id, _ = await make_driver(runtime(app).session_factory)
    headers = bearer(runtime(app).tokens, driver_id)
    body = await post(http, START, headers, input=start_input(evse_id))
    assert body["data"]["startSession"]["__typename"] == "EvseUnavailable"
    assert body["data"]["startSession"]["reason"] == reason


@pytest.mark.parametrize(
    ("extra", "typename"),
    [
        ({"evseId": "bm90LWFuLWlk"}, "EvseNotFound"),
        ({"evseId": global_id("Evse", 999_999)}, "EvseNotFound"),
        ({"energyKwh": -1.0}, "InvalidStartSessionInput"),
        ({"clientMutationId": ""}, "InvalidStartSessionInput"),
        ({"connectorId": 9}, "InvalidStartSessionInput"),
    ],
    ids=["not-an-evse-id", "unknown-evse", "negative-energy", "empty-mutation-id", "no-connector"],
)
async def test_bad_start_input_is_a_typed_error(
    app: Starlette, http: httpx.AsyncClient, extra: dict[str, Any], typename: str
) -> None:
    evse_id = await online_evse(app)
    driver_id, _ = await make_driver(runtime(app).session_factory)
    body = await post(
        http, START, bearer(runtime(app).tokens, driver_id), input=start_input(evse_id, **extra)
    )
    assert body["data"]["startSession"]["__typename"] == typename


async def test_an_evse_reserved_by_another_driver_is_evse_reserved(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    factory = runtime(app).session_factory
    evse_id = await online_evse(app)
    holder_id, holder_token = await make_driver(factory)
    driver_id, _ = await make_driver(factory)
    await make_reservation(
        factory, driver_id=holder_id, evse_id=evse_id, id_token=holder_token,
        status=ReservationStatus.ACTIVE,
    )  # fmt: skip
    body = await post(
        http, START, bearer(runtime(app).tokens, driver_id), input=start_input(evse_id)
    )
    assert body["data"]["startSession"]["__typename"] == "EvseReserved"
    # The holder may start on it.
    body = await post(
        http, START, bearer(runtime(app).tokens, holder_id), input=start_input(evse_id)
    )
    assert body["data"]["startSession"]["__typename"] == "CommandPayload"


async def test_a_station_not_connected_here_gives_evse_inoperative_and_retries_reuse_it(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    evse_id = await online_evse(app)  # online in the database, but no socket to this process
    driver_id, _ = await make_driver(runtime(app).session_factory)
    headers = bearer(runtime(app).tokens, driver_id)
    first = (await post(http, START, headers, input=start_input(evse_id)))["data"]["startSession"]
    assert (first["status"], first["kind"], first["clientMutationId"]) == (
        "PENDING",
        "START",
        "m-1",
    )
    sending = [t for t in asyncio.all_tasks() if t.get_name() == f"start {first['commandId']}"]
    async with asyncio.timeout(5):
        await asyncio.gather(*sending)
    async with runtime(app).session_factory() as db:
        command = await db.get(RemoteCommand, first["commandId"])
    assert command is not None
    assert command.status == "EVSE_INOPERATIVE"
    retried = (await post(http, START, headers, input=start_input(evse_id)))["data"]
    assert retried["startSession"]["commandId"] == first["commandId"]


async def test_stop_refuses_other_drivers_and_ended_sessions(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    factory = runtime(app).session_factory
    evse_id = await online_evse(app)
    owner_id, _ = await make_driver(factory)
    other_id, _ = await make_driver(factory)
    async with factory() as db:
        evse = await db.get(Evse, evse_id)
        assert evse is not None
        active = ChargingSession(
            station_id=evse.station_id, evse_id=evse_id, transaction_id="tx-a",
            started_at=datetime.now(UTC) - timedelta(minutes=5), driver_id=owner_id,
        )  # fmt: skip
        ended = ChargingSession(
            station_id=evse.station_id, evse_id=evse_id, transaction_id="tx-b",
            started_at=datetime.now(UTC) - timedelta(hours=2), driver_id=owner_id,
            status="COMPLETED", ended_at=datetime.now(UTC) - timedelta(hours=1),
        )  # fmt: skip
        db.add_all([active, ended])
        await db.commit()
    active_input = {"sessionId": global_id("ChargingSession", active.id)}
    anonymous = await post(http, STOP, None, input=active_input)
    assert anonymous["data"] is None
    assert "log in" in anonymous["errors"][0]["message"]
    other = await post(http, STOP, bearer(runtime(app).tokens, other_id), input=active_input)
    assert other["data"]["stopSession"]["__typename"] == "SessionNotFound"
    owner = bearer(runtime(app).tokens, owner_id)
    done = await post(
        http, STOP, owner, input={"sessionId": global_id("ChargingSession", ended.id)}
    )
    assert done["data"]["stopSession"]["__typename"] == "SessionNotActive"
    async with factory() as db:
        assert (await db.exec(select(RemoteCommand))).all() == []
