"""A server killed mid-operation (SIGKILL) and started again: a firmware update and a diagnostics
upload it left ACCEPTED_PENDING still reach a final state, the charger's own or TIMEOUT."""

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport
from ocpp import v16
from ocpp.routing import on
from pydantic import SecretStr
from sqlmodel import col, update

from app.db.engine import SessionFactory
from app.db.models import Location
from app.graphql.types import node
from app.services.auth import TokenService
from app.settings import Settings
from tests.access_builders import make_operator, make_operator_user, operator_bearer
from tests.factories import make_location, make_station
from tests.multi.cluster import SERVING, START_TIMEOUT_S, Instance, start_instance
from tests.multi.helpers import graphql
from tests.ocpp.clients import basic_auth

pytestmark = pytest.mark.e2e

SECRET = "restart-sweep-test-secret-0123456789abcdef"
PASSWORD = "station-password-0001"
OPERATION_WINDOW_S = 30  # the follower's window: the server is killed well inside it
RESULT = """
subscription R($id: ID!) { commandResult(commandId: $id) { status progress reason } }
"""


class Charger(v16.ChargePoint):
    """Accepts a firmware update and a diagnostics upload, then reports only what it is told."""

    @on("UpdateFirmware")
    async def on_update_firmware(self, location: str, retrieve_date: str, **_: Any) -> Any:
        return v16.call_result.UpdateFirmware()

    @on("GetDiagnostics")
    async def on_get_diagnostics(self, location: str, **_: Any) -> Any:
        return v16.call_result.GetDiagnostics(file_name="diagnostics.zip")


@contextlib.asynccontextmanager
async def connected(instance: Instance, station_id: str) -> AsyncIterator[Charger]:
    async with websockets.connect(
        f"{instance.ws_url}/ocpp/{station_id}", subprotocols=["ocpp1.6"],  # type: ignore[list-item]
        additional_headers=basic_auth(station_id, PASSWORD), open_timeout=15,
    ) as ws:  # fmt: skip
        charger = Charger(station_id, ws, response_timeout=15)
        task = asyncio.create_task(charger.start())
        try:
            await charger.call(
                v16.call.BootNotification(charge_point_vendor="Acme", charge_point_model="AC")
            )
            yield charger
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
                await task


async def statuses(
    instance: Instance, headers: dict[str, str], command_id: str, until: str, timeout_s: float
) -> list[dict[str, Any]]:
    """commandResult on `instance` until a status `until` (or the end of the stream)."""
    transport = WebsocketsTransport(url=f"{instance.ws_url}/graphql", init_payload=headers)
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout_s), Client(transport=transport) as client:
        request = GraphQLRequest(RESULT, variable_values={"id": command_id})
        async for result in client.subscribe(request):
            seen.append(result["commandResult"])
            if seen[-1]["status"] == until:
                break
    return seen


async def operate(
    instance: Instance, headers: dict[str, str], mutation: str, station_id: str
) -> str:
    query = (
        f"mutation($s: ID!, $l: String!) {{ {mutation}(stationId: $s, location: $l) "
        "{ __typename ... on CommandPayload { commandId } } }"
    )
    station = str(node.global_id(node.CHARGING_STATION, station_id))
    data = await graphql(instance, query, headers, s=station, l="https://files.example.com/x")
    assert data[mutation]["__typename"] == "CommandPayload", data
    command_id: str = data[mutation]["commandId"]
    return command_id


async def test_operations_left_pending_by_a_killed_server_end_after_its_restart(
    database_url: str, session_factory: SessionFactory
) -> None:
    operator = await make_operator(session_factory)
    location = await make_location(session_factory)
    async with session_factory() as db:
        await db.exec(
            update(Location).where(col(Location.id) == location.id).values(operator_id=operator.id)
        )
        await db.commit()
    for station_id in ("RS-FW", "RS-DG"):
        await make_station(
            session_factory, station_id=station_id, password=PASSWORD, location=location
        )
    user = await make_operator_user(session_factory, operator=operator, role="technician")
    tokens = TokenService(
        Settings(_env_file=None, database_url=database_url, auth_jwt_secret=SecretStr(SECRET))  # type: ignore[call-arg]
    )
    headers = operator_bearer(tokens, user)
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TZ")}
    env = {
        **keep, "DATABASE_URL": database_url, "AUTH_JWT_SECRET": SECRET, "LOG_LEVEL": "info",
        "GRAPHQL_EXPLORER": "false", "OCPP_CALL_TIMEOUT_S": "5",
        "REMOTE_OPERATION_WINDOW_S": str(OPERATION_WINDOW_S),
        "COMMAND_SWEEP_GRACE_S": "1", "COMMAND_SWEEP_INTERVAL_S": "0.5",
    }  # fmt: skip
    with tempfile.TemporaryDirectory() as workdir:
        first = await start_instance("first", env, workdir)
        try:
            await first.wait_for_line(SERVING, timeout_s=START_TIMEOUT_S)
            async with connected(first, "RS-FW"), connected(first, "RS-DG"):
                firmware = await operate(first, headers, "updateFirmware", "RS-FW")
                upload = await operate(first, headers, "uploadDiagnostics", "RS-DG")
                for command_id in (firmware, upload):
                    seen = await statuses(first, headers, command_id, "ACCEPTED_PENDING", 20)
                    assert seen[-1]["status"] == "ACCEPTED_PENDING"
                first.kill()  # mid-operation: nobody follows either command any more
                await first.process.wait()
        finally:
            await first.stop()
        second = await start_instance("second", env, workdir)
        try:
            await second.wait_for_line(SERVING, timeout_s=START_TIMEOUT_S)
            async with connected(second, "RS-FW") as charger:
                await charger.call(v16.call.FirmwareStatusNotification(status="Installed"))
                installed = await statuses(second, headers, firmware, "ACCEPTED", 30)
            # Nothing ever reports the upload: the restarted server's sweep ends it.
            timeout_s = OPERATION_WINDOW_S + 90
            timed_out = await statuses(second, headers, upload, "TIMEOUT", timeout_s)
        finally:
            await second.stop()
    assert (installed[-1]["status"], installed[-1]["progress"]) == ("ACCEPTED", "Installed")
    assert timed_out[0]["status"] == "ACCEPTED_PENDING"  # still pending when it restarted
    assert timed_out[-1]["status"] == "TIMEOUT"
    assert timed_out[-1]["reason"] == "no instance followed it to an outcome"
