"""Station password rotation through the protocol: the new password is stored only once the
station accepts it, the old one stays valid until the station reconnects with the new one, a
station whose answer was lost is never locked out, and the password is never logged in clear."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from ocpp.routing import on
from ocpp.v16 import call_result as call_result16
from ocpp.v201 import call_result as call_result201
from sqlmodel import col, select, update
from websockets.exceptions import InvalidStatus

from app.db.engine import SessionFactory
from app.db.models import AuditRecord, ChargingStation, Location, OcppMessageLog, RemoteCommand
from app.domain.errors import Conflict
from app.events import topics
from app.graphql.types import node
from app.services import station_credentials
from app.services.alerts import NETWORK
from app.services.commands import LIVE, command_topic
from app.services.security import verify_password
from app.simulator.station import SimulatedStation
from app.simulator.v16 import SimulatedStation16
from app.simulator.v201 import SimulatedStation201
from tests.access_builders import make_operator, make_operator_user, operator_bearer
from tests.conftest import LiveServer
from tests.factories import make_location, make_station
from tests.ocpp.clients import V16, V201, Charger16, Charger201, charger, raw_socket

pytestmark = pytest.mark.e2e

PASSWORD = "station-password-0001"
ROTATE = """
    mutation($station: ID!) {
      rotateStationPassword(input: {stationId: $station}) {
        __typename
        ... on PasswordRotationStarted { commandId stationId status }
        ... on PasswordRotationRefused { reason message }
      }
    }
"""


async def _owned_station(factory: SessionFactory, operator_id: int, station_id: str) -> None:
    location = await make_location(factory, name=f"Site {station_id}")
    async with factory() as db:
        await db.exec(
            update(Location).where(col(Location.id) == location.id).values(operator_id=operator_id)
        )
        await db.commit()
    await make_station(factory, station_id=station_id, password=PASSWORD, location=location)


async def _rotate(server: LiveServer, headers: dict[str, str], station_id: str) -> dict[str, Any]:
    station = str(node.global_id(node.CHARGING_STATION, station_id))
    async with httpx.AsyncClient(base_url=server.http_url, headers=headers) as http:
        response = await http.post(
            "/graphql", json={"query": ROTATE, "variables": {"station": station}}
        )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["rotateStationPassword"]
    return result


async def _final(server: LiveServer, command_id: str) -> RemoteCommand:
    """The command once it reached a final status (bounded wait on its topic)."""
    factory = server.runtime.session_factory
    async with server.runtime.bus.subscribe(command_topic(command_id)) as events:
        async with asyncio.timeout(15):
            while True:
                async with factory() as db:
                    row = await db.get(RemoteCommand, command_id)
                assert row is not None
                if row.status not in LIVE:
                    return row
                await events.get()


async def _station(factory: SessionFactory, station_id: str) -> ChargingStation:
    async with factory() as db:
        station = await db.get(ChargingStation, station_id)
    assert station is not None
    return station


@dataclass
class Site:
    server: LiveServer
    station_id: str
    admin: dict[str, str]
    charger: SimulatedStation


@pytest.fixture
async def site(live_server: LiveServer, request: pytest.FixtureRequest) -> AsyncIterator[Site]:
    """A booted simulated charger of the parametrised protocol and its organisation's admin."""
    protocol: str = request.node.callspec.params["protocol"]
    runtime = live_server.runtime
    operator = await make_operator(runtime.session_factory)
    assert operator.id is not None
    station_id = f"ROT-{protocol.replace('.', '')}"
    await _owned_station(runtime.session_factory, operator.id, station_id)
    admin = await make_operator_user(runtime.session_factory, operator=operator, role="admin")
    cls = SimulatedStation16 if protocol == "1.6" else SimulatedStation201
    sim = cls(
        url=f"{live_server.ws_url}/ocpp", station_id=station_id, password=PASSWORD, evses=1,
        time_scale=3600.0, idle_s=(1e9, 1e9), reconnect_delay_s=0.05, call_timeout_s=5.0,
    )  # fmt: skip
    async with runtime.bus.subscribe(topics.station_status(station_id)) as events:
        task = asyncio.create_task(sim.run())
        async with asyncio.timeout(10):
            while (await events.get())[1]["type"] != "StationBooted":
                pass
    try:
        yield Site(live_server, station_id, operator_bearer(runtime.tokens, admin), sim)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.mark.parametrize("protocol", ["1.6", "2.0.1"], ids=["ocpp16", "ocpp201"])
async def test_rotation_replaces_the_password_and_the_old_one_lasts_until_reconnect(
    site: Site, protocol: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server, factory = site.server, site.server.runtime.session_factory
    started = await _rotate(server, site.admin, site.station_id)
    assert started["__typename"] == "PasswordRotationStarted"
    command = await _final(server, started["commandId"])
    assert command.status == "ACCEPTED"
    new_password = site.charger.password
    assert new_password is not None
    assert new_password != PASSWORD
    assert len(new_password) == 40
    station = await _station(factory, site.station_id)
    assert station.password_hash is not None
    assert station.previous_password_hash is not None
    assert verify_password(station.password_hash, new_password)
    assert verify_password(station.previous_password_hash, PASSWORD)
    assert station.next_password_hash is None

    # the station reconnects with the new password: the old one is retired
    async with server.runtime.bus.subscribe(topics.station_status(site.station_id)) as events:
        await site.charger.close()
        async with asyncio.timeout(10):
            while (await events.get())[1]["type"] != "StationBooted":
                pass
    station = await _station(factory, site.station_id)
    assert station.previous_password_hash is None
    with pytest.raises(InvalidStatus) as refused:
        async with raw_socket(server, site.station_id, password=PASSWORD):
            pass
    assert refused.value.response.status_code == 401

    # never in clear: not in the message log, the command, the audit log or any log line
    await server.runtime.ocpp.message_log.flush()
    async with factory() as db:
        payloads = (
            await db.exec(
                select(OcppMessageLog.payload).where(OcppMessageLog.station_id == site.station_id)
            )
        ).all()
        audits = (
            await db.exec(
                select(AuditRecord).where(AuditRecord.action == "station.rotate_password")
            )
        ).all()
        command = await db.get(RemoteCommand, started["commandId"])
    action = "ChangeConfiguration" if protocol == "1.6" else "SetVariables"
    sent = [p for p in payloads if action in p]
    assert len(sent) == 1
    assert '"***"' in sent[0]
    assert not [p for p in payloads if new_password in p]
    assert new_password not in str(command)
    assert len(audits) == 1
    assert audits[0].target == f"station:{site.station_id}"
    assert new_password not in str(audits[0].detail)
    assert new_password not in caplog.text


@contextlib.asynccontextmanager
async def running(
    server: LiveServer, station_id: str, cls: type[Any], version: str
) -> AsyncIterator[Any]:
    """A connected charger of class `cls` running its receive loop."""
    async with raw_socket(server, station_id, subprotocols=(version,), password=PASSWORD) as ws:
        client = cls(station_id, ws, response_timeout=5)
        task = asyncio.create_task(client.start())
        try:
            yield client
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


class Silent16(Charger16):
    """Applies a new AuthorizationKey but its answer never arrives (lost on the way)."""

    received: "asyncio.Queue[str]"

    @on("ChangeConfiguration")
    async def on_change_configuration(self, key: str, value: str, **_: Any) -> Any:
        self.received.put_nowait(value)
        await asyncio.Event().wait()  # never answers; cancelled when the test ends
        return call_result16.ChangeConfiguration(status="Accepted")


async def test_a_station_whose_answer_was_lost_is_not_locked_out(
    live_server: LiveServer, session_factory: SessionFactory
) -> None:
    await make_station(session_factory, station_id="ROT-LOST", password=PASSWORD)
    runtime = live_server.runtime
    async with running(live_server, "ROT-LOST", Silent16, V16) as client:
        client.received = asyncio.Queue()
        command = await station_credentials.request_rotation(
            session_factory=session_factory, scope=NETWORK, station_id="ROT-LOST", actor="test"
        )
        status = await station_credentials.run_rotation(
            session_factory=session_factory,
            bus=runtime.bus,
            commander=runtime.registry,
            command_id=command.id,
            grace_s=3600,
            timeout_s=1.0,
        )
        assert status == "TIMEOUT"
        new_password = client.received.get_nowait()
    station = await _station(session_factory, "ROT-LOST")
    assert station.next_password_hash is not None
    # it may or may not have applied the password: both work
    async with raw_socket(live_server, "ROT-LOST", password=PASSWORD) as websocket:
        assert websocket.subprotocol == V16
    async with raw_socket(live_server, "ROT-LOST", password=new_password) as websocket:
        assert websocket.subprotocol == V16
    station = await _station(session_factory, "ROT-LOST")
    assert station.password_hash is not None
    assert verify_password(station.password_hash, new_password)  # promoted by that reconnect
    assert station.next_password_hash is None
    with pytest.raises(InvalidStatus):
        async with raw_socket(live_server, "ROT-LOST", password=PASSWORD):
            pass


class Refusing201(Charger201):
    @on("SetVariables")
    async def on_set_variables(self, set_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        item = set_variable_data[0]
        return call_result201.SetVariables(
            set_variable_result=[
                {
                    "attribute_status": "Rejected",
                    "component": item["component"],
                    "variable": item["variable"],
                }
            ]
        )


async def test_a_refused_rotation_keeps_the_old_password(
    live_server: LiveServer, session_factory: SessionFactory
) -> None:
    await make_station(session_factory, station_id="ROT-NO", password=PASSWORD)
    runtime = live_server.runtime
    async with running(live_server, "ROT-NO", Refusing201, V201):
        command = await station_credentials.request_rotation(
            session_factory=session_factory, scope=NETWORK, station_id="ROT-NO", actor="test"
        )
        with pytest.raises(Conflict):  # one rotation at a time per station
            await station_credentials.request_rotation(
                session_factory=session_factory, scope=NETWORK, station_id="ROT-NO", actor="t"
            )
        status = await station_credentials.run_rotation(
            session_factory=session_factory,
            bus=runtime.bus,
            commander=runtime.registry,
            command_id=command.id,
            grace_s=3600,
        )
    assert status == "REJECTED"
    station = await _station(session_factory, "ROT-NO")
    assert station.next_password_hash is None
    assert station.previous_password_hash is None
    assert station.password_hash is not None
    assert verify_password(station.password_hash, PASSWORD)


async def test_rotation_is_refused_outside_the_network_offline_and_below_admin(
    live_server: LiveServer, session_factory: SessionFactory
) -> None:
    ours = await make_operator(session_factory)
    theirs = await make_operator(session_factory)
    assert ours.id is not None
    assert theirs.id is not None
    await _owned_station(session_factory, ours.id, "ROT-OURS")
    tokens = live_server.runtime.tokens
    admin = operator_bearer(tokens, await make_operator_user(session_factory, operator=ours))
    other_admin = operator_bearer(
        tokens, await make_operator_user(session_factory, operator=theirs)
    )
    technician = operator_bearer(
        tokens, await make_operator_user(session_factory, operator=ours, role="technician")
    )
    offline = await _rotate(live_server, admin, "ROT-OURS")
    assert offline["reason"] == "STATION_NOT_CONNECTED"
    async with charger(live_server, "ROT-OURS", password=PASSWORD):
        elsewhere = await _rotate(live_server, other_admin, "ROT-OURS")
        assert elsewhere["reason"] == "STATION_NOT_FOUND"
        station = str(node.global_id(node.CHARGING_STATION, "ROT-OURS"))
        async with httpx.AsyncClient(base_url=live_server.http_url, headers=technician) as http:
            response = await http.post(
                "/graphql", json={"query": ROTATE, "variables": {"station": station}}
            )
        body = response.json()
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    async with session_factory() as db:
        commands = (await db.exec(select(RemoteCommand))).all()
    assert commands == []
