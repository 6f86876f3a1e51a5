"""End to end: startSession/stopSession against uvicorn and simulated 1.6 and 2.0.1 chargers,
outcomes read from commandResult over a real WebSocket."""

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport
from sqlmodel import select

from app.db.models import ChargingSession, Evse, RemoteCommand
from app.domain.enums import SessionStatus
from app.settings import Settings
from app.simulator import SimulatedStation, SimulationConfig, create_station
from tests.conftest import LiveServer
from tests.factories import make_station
from tests.graphql.conftest import global_id
from tests.ocpp.clients import BOOT16, BOOT201, V16, V201, exchange, raw_socket
from tests.reservation_builders import bearer, make_driver

pytestmark = pytest.mark.e2e

PASSWORD = "station-password-0001"
PROTOCOLS = pytest.mark.parametrize("protocol", ["1.6", "2.0.1"], ids=["ocpp16", "ocpp201"])
START = """
mutation S($input: StartSessionInput!) {
  startSession(input: $input) {
    __typename
    ... on CommandPayload { commandId status kind }
    ... on EvseUnavailable { message reason }
  }
}
"""
STOP = """
mutation S($input: StopSessionInput!) {
  stopSession(input: $input) {
    __typename
    ... on CommandPayload { commandId status kind }
    ... on SessionNotFound { message }
  }
}
"""
RESULT = """
subscription R($id: ID!) {
  commandResult(commandId: $id) { commandId status session { id status } }
}
"""


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Short answer and start windows, so TIMEOUT arrives in about a second."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        ocpp_call_timeout_s=1.0,
        remote_command_window_s=1.5,
    )


async def graphql(
    server: LiveServer, query: str, headers: dict[str, str], **variables: Any
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.http_url, timeout=10) as http:
        response = await http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]


async def outcome(server: LiveServer, headers: dict[str, str], command_id: str) -> list[Any]:
    """Every commandResult until the subscription ends (at a final status), bounded."""
    transport = WebsocketsTransport(
        url=f"{server.ws_url}/graphql", init_payload={"Authorization": headers["Authorization"]}
    )
    seen: list[Any] = []
    async with asyncio.timeout(10), Client(transport=transport) as session:
        request = GraphQLRequest(RESULT, variable_values={"id": command_id})
        async for result in session.subscribe(request):
            seen.append(result["commandResult"])
    return seen


@asynccontextmanager
async def station(server: LiveServer, protocol: str, name: str) -> AsyncIterator[SimulatedStation]:
    """A booted simulated charger (one EVSE, Available) driven step by step."""
    config = SimulationConfig(
        url=f"{server.ws_url}/ocpp", stations=1, protocol=protocol, password=PASSWORD,
        station_prefix=name, evses_per_station=1, time_scale=3600,
    )  # fmt: skip
    await make_station(
        server.runtime.session_factory, station_id=config.station_id(0), password=PASSWORD
    )
    charger = create_station(config, 0)
    async with charger.connect():
        assert await charger.boot() == "Accepted"
        await charger.send_status(1, "Available")
        yield charger


async def evse_key(server: LiveServer, station_id: str) -> int:
    async with server.runtime.session_factory() as db:
        evse = (await db.exec(select(Evse).where(Evse.station_id == station_id))).one()
    assert evse.id is not None
    return evse.id


async def start(
    server: LiveServer, headers: dict[str, str], evse_id: int, mutation_id: str
) -> dict[str, Any]:
    variables = {"evseId": global_id("Evse", evse_id), "clientMutationId": mutation_id}
    data = await graphql(server, START, headers, input={**variables, "energyKwh": 20.5})
    result: dict[str, Any] = data["startSession"]
    return result


async def requested_start(charger: SimulatedStation) -> Any:
    """The remote start the charger accepted (its EVSE loop is not running: we play it)."""
    evse = charger.evses[1]
    async with asyncio.timeout(5):
        while not evse.start_requests:
            evse.wake.clear()
            await evse.wake.wait()
    return evse.start_requests.pop(0)


async def sessions(server: LiveServer) -> list[ChargingSession]:
    async with server.runtime.session_factory() as db:
        return list((await db.exec(select(ChargingSession))).all())


@PROTOCOLS
async def test_a_remote_start_is_accepted_with_the_session_linked(
    live_server: LiveServer, protocol: str
) -> None:
    driver_id, app_token = await make_driver(live_server.runtime.session_factory)
    headers = bearer(live_server.runtime.tokens, driver_id)
    async with station(live_server, protocol, "RS") as charger:
        evse_id = await evse_key(live_server, charger.station_id)
        payload = await start(live_server, headers, evse_id, "m-1")
        assert (payload["__typename"], payload["status"]) == ("CommandPayload", "PENDING")
        request = await requested_start(charger)
        assert request.token == app_token
        await charger.start_transaction(1, request.token, remote_start_id=request.remote_start_id)
        seen = await outcome(live_server, headers, payload["commandId"])
    assert seen[-1]["status"] == "ACCEPTED"
    (session,) = await sessions(live_server)
    assert seen[-1]["session"]["id"] == global_id("ChargingSession", session.id)
    async with live_server.runtime.session_factory() as db:
        command = await db.get(RemoteCommand, payload["commandId"])
    assert command is not None
    assert (session.driver_id, session.remote_start_id) == (driver_id, command.remote_start_id)
    assert session.requested_energy_wh == 20_500
    assert command.session_id == session.id


@PROTOCOLS
async def test_a_charger_that_rejects_gives_rejected_and_no_session(
    live_server: LiveServer, protocol: str
) -> None:
    driver_id, _ = await make_driver(live_server.runtime.session_factory)
    headers = bearer(live_server.runtime.tokens, driver_id)
    async with station(live_server, protocol, "RJ") as charger:
        charger.evses[1].operative = False  # the charger refuses remote starts on it
        payload = await start(live_server, headers, await evse_key(live_server, "RJ-0001"), "m")
        seen = await outcome(live_server, headers, payload["commandId"])
    assert [s["status"] for s in seen][-1] == "REJECTED"
    assert await sessions(live_server) == []


@pytest.mark.parametrize(("version", "boot"), [(V16, BOOT16), (V201, BOOT201)])
async def test_a_charger_that_never_answers_gives_timeout(
    live_server: LiveServer, version: str, boot: str
) -> None:
    driver_id, _ = await make_driver(live_server.runtime.session_factory)
    headers = bearer(live_server.runtime.tokens, driver_id)
    await make_station(live_server.runtime.session_factory, station_id="CS-MUTE")
    async with raw_socket(live_server, "CS-MUTE", subprotocols=(version,)) as ws:
        assert (await exchange(ws, boot))[0] == 3
        await exchange(ws, json.dumps([2, "st-1", "StatusNotification", _status(version)]))
        payload = await start(live_server, headers, await evse_key(live_server, "CS-MUTE"), "m")
        async with asyncio.timeout(5):
            call = json.loads(await ws.recv())  # read the start, never answer it
        assert call[2] in ("RemoteStartTransaction", "RequestStartTransaction")
        seen = await outcome(live_server, headers, payload["commandId"])
    assert seen[-1]["status"] == "TIMEOUT"
    assert await sessions(live_server) == []


def _status(version: str) -> dict[str, Any]:
    if version == V16:
        return {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
    return {
        "timestamp": "2025-01-01T00:00:00Z",
        "connectorStatus": "Available",
        "evseId": 1,
        "connectorId": 1,
    }


@PROTOCOLS
async def test_accepted_but_never_started_times_out_and_a_late_start_is_refused(
    live_server: LiveServer, protocol: str
) -> None:
    driver_id, _ = await make_driver(live_server.runtime.session_factory)
    headers = bearer(live_server.runtime.tokens, driver_id)
    async with station(live_server, protocol, "LT") as charger:
        payload = await start(live_server, headers, await evse_key(live_server, "LT-0001"), "m")
        request = await requested_start(charger)  # accepted, and then nothing happens
        seen = await outcome(live_server, headers, payload["commandId"])
        assert [s["status"] for s in seen][-1] == "TIMEOUT"
        assert "ACCEPTED_PENDING" in [s["status"] for s in seen] or len(seen) == 1
        assert await sessions(live_server) == []
        # The charger starts anyway, too late: its answer refuses the token, so it stops.
        tx = await charger.start_transaction(
            1, request.token, remote_start_id=request.remote_start_id
        )
        assert tx.rejected
        await charger.stop_transaction(1, "deauthorized")
    (session,) = await sessions(live_server)
    assert session.status == SessionStatus.COMPLETED
    async with live_server.runtime.session_factory() as db:
        command = await db.get(RemoteCommand, payload["commandId"])
    assert command is not None
    assert (command.status, command.session_id) == ("TIMEOUT", None)
    assert command.detail is not None
    assert command.detail["late_session_id"] == session.id


@PROTOCOLS
async def test_a_retried_client_mutation_id_sends_one_start(
    live_server: LiveServer, protocol: str
) -> None:
    driver_id, _ = await make_driver(live_server.runtime.session_factory)
    headers = bearer(live_server.runtime.tokens, driver_id)
    async with station(live_server, protocol, "ID") as charger:
        evse_id = await evse_key(live_server, "ID-0001")
        payloads = await asyncio.gather(
            *(start(live_server, headers, evse_id, "same") for _ in "abc")
        )
        assert len({p["commandId"] for p in payloads}) == 1
        request = await requested_start(charger)
        await charger.start_transaction(1, request.token, remote_start_id=request.remote_start_id)
        seen = await outcome(live_server, headers, payloads[0]["commandId"])
        again = await start(live_server, headers, evse_id, "same")
    assert seen[-1]["status"] == "ACCEPTED"
    assert (again["commandId"], again["status"]) == (payloads[0]["commandId"], "ACCEPTED")
    starts = [a for a, _ in charger.received if a.endswith("StartTransaction")]
    assert starts == [starts[0]]
    assert len(await sessions(live_server)) == 1
    async with live_server.runtime.session_factory() as db:
        assert len((await db.exec(select(RemoteCommand))).all()) == 1


@PROTOCOLS
async def test_a_remote_stop_is_accepted_once_the_session_completes(
    live_server: LiveServer, protocol: str
) -> None:
    driver_id, _ = await make_driver(live_server.runtime.session_factory)
    other_id, _ = await make_driver(live_server.runtime.session_factory)
    headers = bearer(live_server.runtime.tokens, driver_id)
    async with station(live_server, protocol, "SP") as charger:
        payload = await start(live_server, headers, await evse_key(live_server, "SP-0001"), "m")
        request = await requested_start(charger)
        await charger.start_transaction(1, request.token, remote_start_id=request.remote_start_id)
        assert (await outcome(live_server, headers, payload["commandId"]))[-1]["status"] == (
            "ACCEPTED"
        )
        (session,) = await sessions(live_server)
        stop_input = {"sessionId": global_id("ChargingSession", session.id)}
        refused = await graphql(
            live_server, STOP, bearer(live_server.runtime.tokens, other_id), input=stop_input
        )
        assert refused["stopSession"]["__typename"] == "SessionNotFound"
        stopped = await graphql(live_server, STOP, headers, input=stop_input)
        assert stopped["stopSession"]["kind"] == "STOP"
        seen = await outcome(live_server, headers, stopped["stopSession"]["commandId"])
    assert seen[-1]["status"] == "ACCEPTED"
    assert seen[-1]["session"]["status"] == "COMPLETED"
    (session,) = await sessions(live_server)
    assert session.status == SessionStatus.COMPLETED
    assert [a for a, _ in charger.received if a.endswith("StopTransaction")] != []
