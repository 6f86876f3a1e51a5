"""The foundation flow end to end: a charger's status change, sent over OCPP, reaches a GraphQL
subscriber over a real WebSocket; an RFID session ends stored with the right energy."""

import asyncio
import base64
from typing import Any

import pytest
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport
from sqlmodel import select

from app.db.models import ChargingSession, MeterSample
from app.domain.enums import SessionStatus
from app.events import topics
from app.simulator import SimulationConfig, create_station
from tests.conftest import LiveServer
from tests.factories import make_id_token, make_location, make_station

pytestmark = pytest.mark.e2e

PASSWORD = "station-password-0001"
SUBSCRIPTION = """
    subscription Watch($ids: [ID!]!) {
      evseStatusChanged(locationIds: $ids) { evseUid stationIdentity status previousStatus }
    }
"""


def global_id(type_name: str, key: int | None) -> str:
    return base64.b64encode(f"{type_name}:{key}".encode()).decode()


@pytest.mark.parametrize("protocol", ["1.6", "2.0.1"], ids=["ocpp16", "ocpp201"])
async def test_a_chargers_status_and_session_reach_the_api(
    live_server: LiveServer, subscribed: asyncio.Queue[set[str]], protocol: str
) -> None:
    factory = live_server.runtime.session_factory
    location = await make_location(factory, name="Live")
    await make_station(factory, station_id="LIVE-0001", password=PASSWORD, location=location)
    token = await make_id_token(factory, uid="RFID-LIVE-1")
    config = SimulationConfig(
        url=f"{live_server.ws_url}/ocpp", stations=1, protocol=protocol, password=PASSWORD,
        station_prefix="LIVE", evses_per_station=1, id_tokens=(token.uid,), time_scale=3600,
    )  # fmt: skip
    charger = create_station(config, 0)

    transport = WebsocketsTransport(url=f"{live_server.ws_url}/graphql")
    async with Client(transport=transport) as client:
        received: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        async def listen() -> None:
            variables = {"ids": [global_id("Location", location.id)]}
            request = GraphQLRequest(SUBSCRIPTION, variable_values=variables)
            async for result in client.subscribe(request):
                received.put_nowait(result["evseStatusChanged"])

        listener = asyncio.create_task(listen())
        try:
            async with asyncio.timeout(10):
                opened = asyncio.create_task(subscribed.get())
                await asyncio.wait([opened, listener], return_when=asyncio.FIRST_COMPLETED)
                assert not listener.done(), listener.exception()
                assert opened.result() == {topics.evse_status(location.id)}
            async with charger.connect():
                assert await charger.boot() == "Accepted"
                await charger.send_status(1, "Available")
                async with asyncio.timeout(10):
                    event = await received.get()
                assert (event["previousStatus"], event["status"]) == ("UNKNOWN", "AVAILABLE")
                assert event["stationIdentity"] == "LIVE-0001"
                assert event["evseUid"] == "LIVE-0001*1"

                assert await charger.authorize(token.uid)
                tx = await charger.start_transaction(1, token.uid)
                await charger.send_status(1, "Charging" if protocol == "1.6" else "Occupied")
                async with asyncio.timeout(10):
                    event = await received.get()
                assert (event["previousStatus"], event["status"]) == ("AVAILABLE", "CHARGING")
                for _ in range(3):
                    await charger.send_meter_values(1)
                stopped = await charger.stop_transaction(1)
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)

    async with factory() as db:
        session = (await db.exec(select(ChargingSession))).one()
        samples = (
            await db.exec(select(MeterSample).where(MeterSample.session_id == session.id))
        ).all()
    assert session.status == SessionStatus.COMPLETED
    assert session.id_token == token.uid
    assert session.meter_stop_wh is not None
    # What the charger's meter said, to the Wh: register at stop minus register at start.
    assert session.energy_wh == session.meter_stop_wh - session.meter_start_wh
    assert stopped.meter_stop_wh is not None
    assert session.energy_wh == stopped.meter_stop_wh - tx.meter_start_wh
    assert session.energy_wh > 0
    assert any(s.measurand == "Energy.Active.Import.Register" for s in samples)
