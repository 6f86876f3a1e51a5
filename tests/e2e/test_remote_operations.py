"""Remote operations end to end: an operator user's mutations over HTTP, the outcome on
`commandResult` over a real WebSocket, simulated 1.6 and 2.0.1 chargers against a live server."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport
from sqlmodel import col, select, update

from app.db.models import (
    AuditRecord,
    ChargingStation,
    Evse,
    Location,
    OcppMessageLog,
    Operator,
    RemoteCommand,
    StationBoot,
)
from app.domain.enums import EvseStatus, MessageDirection, MessageKind
from app.events import topics
from app.graphql.types import node
from app.simulator.station import SimulatedStation
from app.simulator.v16 import SimulatedStation16
from app.simulator.v201 import SimulatedStation201
from tests.access_builders import make_operator, make_operator_user, operator_bearer
from tests.conftest import LiveServer
from tests.factories import make_location, make_station

pytestmark = pytest.mark.e2e

PASSWORD = "station-password-0001"
PROTOCOLS = pytest.mark.parametrize("protocol", ["1.6", "2.0.1"], ids=["ocpp16", "ocpp201"])
COMMAND_RESULT = """
    subscription($id: ID!) {
      commandResult(commandId: $id) { commandId kind status progress stationAnswer reason }
    }
"""
COMMAND_FIELDS = (
    "... on CommandPayload { commandId kind status } ... on StationNotFound { message }"
    " ... on StationNotConnected { message } ... on InvalidOperationInput { message }"
    " ... on EvseNotFound { message }"
)


@dataclass
class Site:
    """One organisation's station with a running simulated charger and a technician."""

    server: LiveServer
    operator: Operator
    station_id: str
    evse_key: int
    headers: dict[str, str]
    charger: SimulatedStation

    @property
    def station_gid(self) -> str:
        return str(node.global_id(node.CHARGING_STATION, self.station_id))

    @property
    def evse_gid(self) -> str:
        return str(node.global_id(node.EVSE, self.evse_key))


async def _owned_station(server: LiveServer, operator: Operator, station_id: str) -> int:
    factory = server.runtime.session_factory
    location = await make_location(factory, name=f"Site {station_id}")
    async with factory() as db:
        await db.exec(
            update(Location).where(col(Location.id) == location.id).values(operator_id=operator.id)
        )
        await db.commit()
    await make_station(factory, station_id=station_id, password=PASSWORD, location=location)
    async with factory() as db:
        evse = (await db.exec(select(Evse).where(Evse.station_id == station_id))).one()
    assert evse.id is not None
    return evse.id


@pytest.fixture
async def site(live_server: LiveServer, request: pytest.FixtureRequest) -> AsyncIterator[Site]:
    """A booted simulated charger of the parametrised protocol, run by its own loop."""
    protocol: str = request.node.callspec.params["protocol"]
    runtime = live_server.runtime
    operator = await make_operator(runtime.session_factory)
    station_id = f"OPS-{protocol.replace('.', '')}"
    evse_key = await _owned_station(live_server, operator, station_id)
    user = await make_operator_user(runtime.session_factory, operator=operator, role="technician")
    cls = SimulatedStation16 if protocol == "1.6" else SimulatedStation201
    charger = cls(
        url=f"{live_server.ws_url}/ocpp", station_id=station_id, password=PASSWORD, evses=1,
        time_scale=3600.0, idle_s=(1e9, 1e9), reconnect_delay_s=0.05, call_timeout_s=5.0,
    )  # fmt: skip
    async with runtime.bus.subscribe(topics.station_status(station_id)) as events:
        task = asyncio.create_task(charger.run())
        async with asyncio.timeout(10):
            while (await events.get())[1]["type"] != "StationBooted":
                pass
    try:
        yield Site(
            live_server, operator, station_id, evse_key, operator_bearer(runtime.tokens, user),
            charger,
        )  # fmt: skip
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def graphql(
    server: LiveServer, headers: dict[str, str], query: str, **variables: Any
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.http_url, headers=headers) as http:
        response = await http.post("/graphql", json={"query": query, "variables": variables})
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def operate(site: Site, mutation: str, arguments: str, **variables: Any) -> dict[str, Any]:
    """Run one remote-operation mutation as the site's technician; its union member."""
    declared = ", ".join(f"${name}: {kind}" for name, kind in _types(variables).items())
    query = f"mutation({declared}) {{ {mutation}({arguments}) {{ {COMMAND_FIELDS} }} }}"
    data = await graphql(site.server, site.headers, query, **variables)
    result: dict[str, Any] = data[mutation]
    return result


def _types(variables: dict[str, Any]) -> dict[str, str]:
    kinds = {"station": "ID!", "evse": "ID!", "keys": "[String!]", "operative": "Boolean!"}
    return {name: kinds.get(name, "String!") for name in variables}


async def outcome(site: Site, command_id: str) -> list[dict[str, Any]]:
    """Everything `commandResult` streams for the command until it is final."""
    transport = WebsocketsTransport(url=f"{site.server.ws_url}/graphql", init_payload=site.headers)
    seen: list[dict[str, Any]] = []
    async with asyncio.timeout(20), Client(transport=transport) as client:
        request = GraphQLRequest(COMMAND_RESULT, variable_values={"id": command_id})
        async for result in client.subscribe(request):
            seen.append(result["commandResult"])
    return seen


@PROTOCOLS
async def test_a_reset_reboots_the_station_and_ends_accepted_on_command_result(
    site: Site, protocol: str
) -> None:
    factory = site.server.runtime.session_factory
    async with factory() as db:
        boots_before = len((await db.exec(select(StationBoot))).all())
    answer = await operate(
        site, "resetStation", "stationId: $station, type: HARD", station=site.station_gid
    )
    assert answer["status"] == "PENDING"
    seen = await outcome(site, answer["commandId"])
    final = seen[-1]
    assert (final["kind"], final["status"], final["progress"]) == ("RESET", "ACCEPTED", "Booted")
    assert final["stationAnswer"] == "Accepted"
    async with factory() as db:
        boots = (await db.exec(select(StationBoot))).all()
    assert len(boots) == boots_before + 1  # it booted again
    if protocol == "2.0.1":
        await site.server.runtime.ocpp.message_log.flush()
        async with factory() as db:
            logged = await db.exec(
                select(OcppMessageLog.payload).where(
                    OcppMessageLog.action == "BootNotification",
                    OcppMessageLog.direction == MessageDirection.INBOUND,
                )
            )
            payloads = logged.all()
        assert any('"RemoteReset"' in payload for payload in payloads)


@PROTOCOLS
async def test_a_firmware_update_reaches_installed_and_the_version_changes(
    site: Site, protocol: str
) -> None:
    answer = await operate(
        site, "updateFirmware", "stationId: $station, location: $location",
        station=site.station_gid, location="https://firmware.example.com/sim-2.1.0.bin",
    )  # fmt: skip
    seen = await outcome(site, answer["commandId"])
    assert (seen[-1]["status"], seen[-1]["progress"]) == ("ACCEPTED", "Installed")
    assert seen[0]["status"] in ("PENDING", "ACCEPTED_PENDING")
    jobs = await graphql(
        site.server, site.headers,
        "query($s: ID!) { firmwareUpdates(stationId: $s) { status previousVersion "
        "installedVersion finishedAt requestedBy commandId } }",
        s=site.station_gid,
    )  # fmt: skip
    [job] = jobs["firmwareUpdates"]
    assert (job["status"], job["previousVersion"], job["installedVersion"]) == (
        "Installed", "1.4.2", "2.1.0",
    )  # fmt: skip
    assert job["finishedAt"] is not None
    assert job["commandId"] == answer["commandId"]
    assert job["requestedBy"].startswith("operator-user:")
    async with site.server.runtime.session_factory() as db:
        station = await db.get(ChargingStation, site.station_id)
    assert station is not None
    assert station.firmware_version == "2.1.0"


@PROTOCOLS
async def test_a_failed_download_ends_the_firmware_command_failed(
    site: Site, protocol: str
) -> None:
    answer = await operate(
        site, "updateFirmware", "stationId: $station, location: $location",
        station=site.station_gid, location="ftp://firmware.example.com/fail-download/3.0.0.bin",
    )  # fmt: skip
    seen = await outcome(site, answer["commandId"])
    assert (seen[-1]["status"], seen[-1]["progress"]) == ("FAILED", "DownloadFailed")
    assert "DownloadFailed" in seen[-1]["reason"]
    async with site.server.runtime.session_factory() as db:
        station = await db.get(ChargingStation, site.station_id)
    assert station is not None
    assert station.firmware_version == "1.4.2"


@PROTOCOLS
async def test_unlock_answers_unlocked_and_is_audited_with_the_actor(
    site: Site, protocol: str
) -> None:
    answer = await operate(site, "unlockConnector", "evseId: $evse", evse=site.evse_gid)
    seen = await outcome(site, answer["commandId"])
    assert (seen[-1]["status"], seen[-1]["stationAnswer"]) == ("ACCEPTED", "Unlocked")
    async with site.server.runtime.session_factory() as db:
        records = (
            await db.exec(
                select(AuditRecord)
                .where(AuditRecord.action == "evse.unlock_connector")
                .order_by(col(AuditRecord.id))
            )
        ).all()
    assert [r.result for r in records] == ["REQUESTED", "ACCEPTED"]
    assert {r.actor for r in records} == {f"operator-user:{_subject(site)}"}
    assert {r.operator_id for r in records} == {site.operator.id}
    assert all((r.detail or {}).get("command_id") == answer["commandId"] for r in records)


def _subject(site: Site) -> str:
    token = site.headers["Authorization"].removeprefix("Bearer ")
    principal = site.server.runtime.tokens.verify(token)
    return str(principal.subject_id)


@PROTOCOLS
async def test_change_availability_makes_the_evse_unavailable(site: Site, protocol: str) -> None:
    runtime = site.server.runtime
    async with runtime.bus.subscribe(topics.ALL_EVSE_STATUS) as statuses:
        answer = await operate(
            site, "changeAvailability", "stationId: $station, evseId: $evse, operative: $operative",
            station=site.station_gid, evse=site.evse_gid, operative=False,
        )  # fmt: skip
        seen = await outcome(site, answer["commandId"])
        assert seen[-1]["status"] == "ACCEPTED"
        async with asyncio.timeout(10):
            while (await statuses.get())[1]["status"] != EvseStatus.INOPERATIVE.value:
                pass
    async with runtime.session_factory() as db:
        evse = await db.get(Evse, site.evse_key)
    assert evse is not None
    assert evse.status == EvseStatus.INOPERATIVE
    assert not site.charger.evses[1].operative


@PROTOCOLS
async def test_configuration_changes_and_reads_back(site: Site, protocol: str) -> None:
    key = "HeartbeatInterval" if protocol == "1.6" else "OCPPCommCtrlr.HeartbeatInterval"
    changed = await operate(
        site, "changeConfiguration", "stationId: $station, key: $key, value: $value",
        station=site.station_gid, key=key, value="123",
    )  # fmt: skip
    seen = await outcome(site, changed["commandId"])
    assert (seen[-1]["status"], seen[-1]["stationAnswer"]) == ("ACCEPTED", "Accepted")
    assert site.charger.heartbeat_s == 123.0
    read = await operate(
        site, "getConfiguration", "stationId: $station, keys: $keys",
        station=site.station_gid, keys=[key, "NoSuch.Key"],
    )  # fmt: skip
    seen = await outcome(site, read["commandId"])
    assert seen[-1]["status"] == "ACCEPTED"
    stored = await graphql(
        site.server, site.headers,
        "query($s: ID!) { stationConfiguration(stationId: $s) { key value readAt } }",
        s=site.station_gid,
    )  # fmt: skip
    entries = {e["key"]: e for e in stored["stationConfiguration"]}
    assert entries[key]["value"] == "123"
    assert "NoSuch.Key" not in entries


@PROTOCOLS
async def test_diagnostics_upload_reaches_uploaded(site: Site, protocol: str) -> None:
    answer = await operate(
        site, "uploadDiagnostics", "stationId: $station, location: $location",
        station=site.station_gid, location="https://logs.example.com/upload",
    )  # fmt: skip
    seen = await outcome(site, answer["commandId"])
    assert (seen[-1]["status"], seen[-1]["progress"]) == ("ACCEPTED", "Uploaded")
    uploads = await graphql(
        site.server, site.headers,
        "query($s: ID!) { diagnosticsUploads(stationId: $s) { status fileName finishedAt } }",
        s=site.station_gid,
    )  # fmt: skip
    [upload] = uploads["diagnosticsUploads"]
    assert upload["status"] == "Uploaded"
    assert upload["finishedAt"] is not None
    assert upload["fileName"].startswith(site.station_id)


@PROTOCOLS
async def test_trigger_message_and_clear_cache_are_answered(site: Site, protocol: str) -> None:
    runtime = site.server.runtime
    async with runtime.bus.subscribe(topics.ALL_EVSE_STATUS) as statuses:
        trigger = await operate(
            site, "triggerMessage", "stationId: $station, message: STATUS_NOTIFICATION",
            station=site.station_gid,
        )  # fmt: skip
        assert (await outcome(site, trigger["commandId"]))[-1]["status"] == "ACCEPTED"
        async with asyncio.timeout(10):
            event = (await statuses.get())[1]  # the StatusNotification it sent
        assert event["evse_uid"] == f"{site.station_id}*1"
    arrived = asyncio.Event()
    runtime.ocpp.message_log.observers.append(
        lambda frame: arrived.set() if frame.action == "FirmwareStatusNotification" else None
    )
    firmware = await operate(
        site, "triggerMessage", "stationId: $station, message: FIRMWARE_STATUS_NOTIFICATION",
        station=site.station_gid,
    )  # fmt: skip
    assert (await outcome(site, firmware["commandId"]))[-1]["status"] == "ACCEPTED"
    async with asyncio.timeout(10):
        await arrived.wait()
    [payload] = await _inbound(site, "FirmwareStatusNotification")
    assert '"Idle"' in payload
    cleared = await operate(site, "clearCache", "stationId: $station", station=site.station_gid)
    assert (await outcome(site, cleared["commandId"]))[-1]["status"] == "ACCEPTED"
    assert site.charger.operations.cache_clears == 1


async def _inbound(site: Site, action: str) -> list[str]:
    """Payloads of the CALLs with `action` the station sent, as logged (after a flush)."""
    runtime = site.server.runtime
    await runtime.ocpp.message_log.flush()
    async with runtime.session_factory() as db:
        rows = await db.exec(
            select(OcppMessageLog.payload).where(
                OcppMessageLog.station_id == site.station_id,
                OcppMessageLog.action == action,
                OcppMessageLog.direction == MessageDirection.INBOUND,
                OcppMessageLog.kind == MessageKind.CALL,
            )
        )
        return list(rows.all())


@pytest.mark.parametrize("protocol", ["1.6"], ids=["ocpp16"])
async def test_another_organisation_finds_neither_the_station_nor_its_commands(
    site: Site, protocol: str
) -> None:
    factory = site.server.runtime.session_factory
    stranger = await make_operator_user(factory, role="admin")
    headers = operator_bearer(site.server.runtime.tokens, stranger)
    result = await graphql(
        site.server, headers,
        f"mutation($s: ID!) {{ resetStation(stationId: $s) {{ {COMMAND_FIELDS} }} }}",
        s=site.station_gid,
    )  # fmt: skip
    assert "message" in result["resetStation"]
    assert "commandId" not in result["resetStation"]
    async with factory() as db:
        assert (await db.exec(select(RemoteCommand))).all() == []
    mine = await operate(site, "clearCache", "stationId: $station", station=site.station_gid)
    stranger_site = Site(site.server, site.operator, site.station_id, 0, headers, site.charger)
    with pytest.raises(Exception, match="RemoteCommand"):
        await outcome(stranger_site, mine["commandId"])


async def test_an_offline_station_is_not_connected_and_the_attempt_is_audited(
    live_server: LiveServer,
) -> None:
    factory = live_server.runtime.session_factory
    operator = await make_operator(factory)
    evse_key = await _owned_station(live_server, operator, "OPS-OFF")
    user = await make_operator_user(factory, operator=operator, role="technician")
    headers = operator_bearer(live_server.runtime.tokens, user)
    result = await graphql(
        live_server, headers,
        f"mutation($e: ID!) {{ unlockConnector(evseId: $e) {{ __typename {COMMAND_FIELDS} }} }}",
        e=str(node.global_id(node.EVSE, evse_key)),
    )  # fmt: skip
    assert result["unlockConnector"]["__typename"] == "StationNotConnected"
    async with factory() as db:
        [record] = (
            await db.exec(select(AuditRecord).where(col(AuditRecord.action).startswith("evse.")))
        ).all()
        assert (await db.exec(select(RemoteCommand))).all() == []
    assert (record.action, record.result) == ("evse.unlock_connector", "STATION_NOT_CONNECTED")
    assert record.actor == f"operator-user:{user.id}"


async def test_a_viewer_may_not_reset(live_server: LiveServer) -> None:
    factory = live_server.runtime.session_factory
    operator = await make_operator(factory)
    await _owned_station(live_server, operator, "OPS-VIEW")
    viewer = await make_operator_user(factory, operator=operator, role="viewer")
    async with httpx.AsyncClient(
        base_url=live_server.http_url, headers=operator_bearer(live_server.runtime.tokens, viewer)
    ) as http:
        response = await http.post(
            "/graphql",
            json={
                "query": "mutation($s: ID!) { resetStation(stationId: $s) { __typename } }",
                "variables": {"s": str(node.global_id(node.CHARGING_STATION, "OPS-VIEW"))},
            },
        )
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    async with factory() as db:
        assert (
            await db.exec(select(AuditRecord).where(AuditRecord.action == "station.reset"))
        ).all() == []
        assert (await db.exec(select(RemoteCommand))).all() == []
