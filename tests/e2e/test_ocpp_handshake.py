"""End to end: the OCPP handshake (credentials, subprotocols) and connection replacement."""

import asyncio

import pytest
import websockets
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.exceptions import InvalidStatus

from app.db.models import ChargingStation
from app.domain.enums import OcppVersion, RegistrationStatus
from app.main import create_app
from app.settings import Settings
from tests.conftest import LiveServer, serve
from tests.factories import make_station
from tests.ocpp.clients import V16, V201, boot16, boot201, charger, raw_socket

pytestmark = pytest.mark.e2e


async def test_1_6_charger_boots_and_is_stored(live_server: LiveServer) -> None:
    runtime = live_server.runtime
    await make_station(runtime.session_factory, station_id="CS-16")
    async with charger(live_server, "CS-16", version=V16) as cp:
        answer = await boot16(cp)
        assert answer.status == "Accepted"
        assert answer.interval == runtime.settings.ocpp_heartbeat_interval_s
        assert runtime.registry.is_connected("CS-16")
        assert len(runtime.registry) == 1
    async with runtime.session_factory() as db:
        station = await db.get(ChargingStation, "CS-16")
    assert station is not None
    assert (station.vendor, station.model, station.ocpp_version) == (
        "Acme",
        "AC22",
        OcppVersion.V16,
    )
    assert station.last_boot_at is not None
    assert station.connected_at is not None


async def test_2_0_1_is_preferred_and_boot_is_stored(live_server: LiveServer) -> None:
    runtime = live_server.runtime
    await make_station(runtime.session_factory, station_id="CS-201")
    async with raw_socket(live_server, "CS-201", subprotocols=(V16, V201)) as ws:
        assert ws.subprotocol == V201
    async with charger(live_server, "CS-201", version=V201) as cp:
        answer = await boot201(cp)
        assert answer.status == "Accepted"
    async with runtime.session_factory() as db:
        station = await db.get(ChargingStation, "CS-201")
    assert station is not None
    assert (station.vendor, station.model, station.serial_number, station.firmware_version) == (
        "Acme",
        "DC150",
        "S-1",
        "2.1",
    )
    assert station.ocpp_version == OcppVersion.V201


@pytest.mark.parametrize(
    ("station_id", "password"),
    [
        pytest.param("CS-AUTH", "wrong-password", id="wrong-password"),
        pytest.param("CS-AUTH", None, id="no-credentials"),
        pytest.param("CS-NOBODY", "secret-password-1", id="unknown-station"),
    ],
)
async def test_handshake_refused_with_401(
    live_server: LiveServer, station_id: str, password: str | None
) -> None:
    await make_station(live_server.runtime.session_factory, station_id="CS-AUTH")
    with pytest.raises(InvalidStatus) as refused:
        async with raw_socket(live_server, station_id, password=password):
            pass
    assert refused.value.response.status_code == 401
    assert refused.value.response.headers["WWW-Authenticate"].startswith("Basic")


async def test_no_common_subprotocol_is_accepted_then_closed(live_server: LiveServer) -> None:
    await make_station(live_server.runtime.session_factory, station_id="CS-PROTO")
    async with raw_socket(live_server, "CS-PROTO", subprotocols=("ocpp1.2",)) as ws:
        assert ws.subprotocol is None
        with pytest.raises(websockets.ConnectionClosed) as closed:
            async with asyncio.timeout(5):
                await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1002


async def test_second_connection_replaces_the_first(live_server: LiveServer) -> None:
    runtime = live_server.runtime
    await make_station(runtime.session_factory, station_id="CS-TWICE")
    async with raw_socket(live_server, "CS-TWICE") as first, charger(live_server, "CS-TWICE") as cp:
        await boot16(cp)
        with pytest.raises(websockets.ConnectionClosed):
            async with asyncio.timeout(5):
                await first.recv()
        assert runtime.registry.is_connected("CS-TWICE")
        assert len(runtime.registry) == 1
        assert (await boot16(cp)).status == "Accepted"
        async with runtime.session_factory() as db:
            station = await db.get(ChargingStation, "CS-TWICE")
        # The replaced connection's end must not mark the station offline.
        assert station is not None
        assert station.online is True


async def test_unknown_station_is_let_in_as_pending_when_allowed(
    settings: Settings, engine: AsyncEngine
) -> None:
    open_settings = settings.model_copy(update={"ocpp_allow_unknown_stations": True})
    async with serve(create_app(open_settings)) as server:
        async with charger(server, "CS-NEW", password="anything") as cp:
            answer = await boot16(cp)
        assert answer.status == "Pending"
        async with server.runtime.session_factory() as db:
            station = await db.get(ChargingStation, "CS-NEW")
        assert station is not None
        assert station.registration_status == RegistrationStatus.PENDING
