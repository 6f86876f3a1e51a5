"""End to end: commands through the registry (`StationCommander`) to real 1.6 and 2.0.1 clients."""

import asyncio
import json

import pytest
from sqlmodel import select

from app.db.models import OcppMessageLog
from app.domain.commands import CommandStatus, RequestStart
from app.domain.enums import MessageDirection, MessageKind
from app.domain.errors import StationNotConnected
from tests.conftest import LiveServer
from tests.factories import make_station
from tests.ocpp.clients import (
    BOOT16,
    BOOT201,
    V16,
    V201,
    boot16,
    boot201,
    charger,
    exchange,
    raw_socket,
)

pytestmark = pytest.mark.e2e

START = RequestStart(ocpp_evse_id=1, id_token="APP-USER-1", remote_start_id=42)


@pytest.mark.parametrize("version", [V16, V201])
async def test_request_start_is_accepted_by_a_charger_that_answers(
    live_server: LiveServer, version: str
) -> None:
    runtime = live_server.runtime
    await make_station(runtime.session_factory, station_id="CS-CMD")
    async with charger(live_server, "CS-CMD", version=version) as cp:
        await (boot16(cp) if version == V16 else boot201(cp))
        outcome = await runtime.registry.send("CS-CMD", START)
    assert outcome.status == CommandStatus.ACCEPTED
    assert outcome.detail["status"] == "Accepted"
    await runtime.ocpp.message_log.flush()
    async with runtime.session_factory() as db:
        logged = (
            await db.exec(
                select(OcppMessageLog).where(
                    OcppMessageLog.action.in_(  # type: ignore[union-attr]
                        ["RemoteStartTransaction", "RequestStartTransaction"]
                    )
                )
            )
        ).all()
    assert sorted((row.direction, row.kind) for row in logged) == [
        (MessageDirection.INBOUND, MessageKind.CALLRESULT),
        (MessageDirection.OUTBOUND, MessageKind.CALL),
    ]


@pytest.mark.parametrize(("version", "boot"), [(V16, BOOT16), (V201, BOOT201)])
async def test_a_charger_that_never_answers_gives_timeout(
    live_server: LiveServer, version: str, boot: str
) -> None:
    runtime = live_server.runtime
    await make_station(runtime.session_factory, station_id="CS-MUTE")
    async with raw_socket(live_server, "CS-MUTE", subprotocols=(version,)) as ws:
        assert (await exchange(ws, boot))[0] == 3
        sending = asyncio.create_task(runtime.registry.send("CS-MUTE", START, timeout_s=0.5))
        async with asyncio.timeout(5):
            call = json.loads(await ws.recv())  # the station reads the CALL and never answers
            outcome = await sending
        assert call[0] == 2
        assert call[2] in ("RemoteStartTransaction", "RequestStartTransaction")
        assert outcome.status == CommandStatus.TIMEOUT
        # The connection still works, and a late answer is ignored, not misrouted.
        await ws.send(json.dumps([3, call[1], {"status": "Accepted"}]))
        assert (await exchange(ws, boot))[:2] == [3, "ok-1"]


async def test_an_offline_station_raises_station_not_connected(live_server: LiveServer) -> None:
    runtime = live_server.runtime
    await make_station(runtime.session_factory, station_id="CS-OFF")
    assert not runtime.registry.is_connected("CS-OFF")
    with pytest.raises(StationNotConnected, match="CS-OFF"):
        await runtime.registry.send("CS-OFF", START)
