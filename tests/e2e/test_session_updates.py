"""End to end: sessionUpdated streams full snapshots over a real WebSocket; an RFID session
appears for its card's driver; other drivers and anonymous callers get nothing."""

import asyncio
import time
from collections.abc import AsyncGenerator
from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from sqlmodel import select

from app.db.models import ChargingSession, IdToken
from app.events import topics
from app.simulator import SimulationConfig, create_station, model
from tests.conftest import LiveServer
from tests.factories import make_station
from tests.graphql.conftest import global_id
from tests.reservation_builders import bearer, make_driver

pytestmark = pytest.mark.e2e

PASSWORD = "station-password-0001"
WATCH = """
subscription W($id: ID!) {
  sessionUpdated(sessionId: $id) {
    id status energyKwh powerKw socPercent durationSeconds startedAt endedAt
    costSoFar { amountMinor currency }
  }
}
"""
ACTIVE = "{ me { activeSessions { id status energyKwh } } }"


class SteppedClock:
    """The simulator's meter clock, moved only by the test: the energy between two meter values
    is a fixed step, not however long a busy machine took (at a large time scale the battery
    filled before the second sample, and the snapshots stopped rising)."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def monotonic(self) -> float:
        return self.now


def transport(server: LiveServer, headers: dict[str, str] | None) -> WebsocketsTransport:
    return WebsocketsTransport(
        url=f"{server.ws_url}/graphql",
        init_payload={"Authorization": headers["Authorization"]} if headers else {},
    )


async def add_card(server: LiveServer, driver_id: int, uid: str) -> None:
    async with server.runtime.session_factory() as db:
        db.add(IdToken(uid=uid, driver_id=driver_id))
        await db.commit()


@pytest.mark.parametrize("protocol", ["1.6", "2.0.1"], ids=["ocpp16", "ocpp201"])
async def test_session_updated_streams_rising_snapshots_until_completed(
    live_server: LiveServer,
    subscribed: asyncio.Queue[set[str]],
    protocol: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = SteppedClock()
    monkeypatch.setattr(model, "time", clock)
    factory = live_server.runtime.session_factory
    driver_id, _ = await make_driver(factory)
    other_id, _ = await make_driver(factory)
    await add_card(live_server, driver_id, "RFID-LIVE-7")
    headers = bearer(live_server.runtime.tokens, driver_id)
    config = SimulationConfig(
        url=f"{live_server.ws_url}/ocpp", stations=1, protocol=protocol, password=PASSWORD,
        station_prefix="SU", evses_per_station=1, time_scale=1, dc_every=1,
    )  # fmt: skip
    await make_station(factory, station_id=config.station_id(0), password=PASSWORD)
    charger = create_station(config, 0)
    async with charger.connect():
        assert await charger.boot() == "Accepted"
        await charger.start_transaction(1, "RFID-LIVE-7")  # at the charger, with the card
        async with factory() as db:
            session = (await db.exec(select(ChargingSession))).one()
        assert session.driver_id == driver_id  # the card's driver owns it
        session_gid = global_id("ChargingSession", session.id)

        async with httpx.AsyncClient(base_url=live_server.http_url, timeout=10) as http:
            mine = (await http.post("/graphql", json={"query": ACTIVE}, headers=headers)).json()
            other_headers = bearer(live_server.runtime.tokens, other_id)
            theirs = await http.post("/graphql", json={"query": ACTIVE}, headers=other_headers)
        assert [s["id"] for s in mine["data"]["me"]["activeSessions"]] == [session_gid]
        assert theirs.json()["data"]["me"]["activeSessions"] == []

        snapshots: list[dict[str, Any]] = []
        async with asyncio.timeout(20), Client(transport=transport(live_server, headers)) as ws:
            stream: AsyncGenerator[dict[str, Any], None] = ws.subscribe(
                GraphQLRequest(WATCH, variable_values={"id": session_gid})
            )
            snapshots.append((await anext(stream))["sessionUpdated"])
            assert await subscribed.get() == {topics.session_updated(session.id)}
            for _ in range(3):
                clock.now += 30  # half a minute of charging between samples
                await charger.send_meter_values(1)
                snapshots.append((await anext(stream))["sessionUpdated"])
            await charger.stop_transaction(1)
            snapshots.extend([result["sessionUpdated"] async for result in stream])

    assert snapshots[0]["status"] == "ACTIVE"
    assert snapshots[-1]["status"] == "COMPLETED"
    assert snapshots[-1]["endedAt"] is not None
    live = snapshots[1:4]
    energies = [s["energyKwh"] for s in live]
    assert energies == sorted(energies)
    assert energies[-1] > energies[0]
    assert all(s["powerKw"] is not None and s["powerKw"] > 0 for s in live)
    assert all(s["socPercent"] is not None for s in live)  # a DC charger reports SoC
    assert all(set(s) >= {"durationSeconds", "costSoFar", "startedAt"} for s in snapshots)


@pytest.mark.parametrize("who", ["other-driver", "anonymous"])
async def test_nobody_else_can_watch_a_session_or_a_command(
    live_server: LiveServer, who: str
) -> None:
    factory = live_server.runtime.session_factory
    driver_id, _ = await make_driver(factory)
    other_id, _ = await make_driver(factory)
    await add_card(live_server, driver_id, "RFID-PRIV-1")
    await make_station(factory, station_id="PV-0001", password=PASSWORD)
    config = SimulationConfig(
        url=f"{live_server.ws_url}/ocpp", stations=1, protocol="1.6", password=PASSWORD,
        station_prefix="PV", evses_per_station=1,
    )  # fmt: skip
    charger = create_station(config, 0)
    async with charger.connect():
        assert await charger.boot() == "Accepted"
        await charger.start_transaction(1, "RFID-PRIV-1")
    async with factory() as db:
        session = (await db.exec(select(ChargingSession))).one()
    headers = bearer(live_server.runtime.tokens, other_id) if who == "other-driver" else None
    requests = [
        GraphQLRequest(WATCH, variable_values={"id": global_id("ChargingSession", session.id)}),
        GraphQLRequest(
            "subscription R($id: ID!) { commandResult(commandId: $id) { status } }",
            variable_values={"id": "00000000-0000-4000-8000-000000000000"},
        ),
    ]
    for request in requests:
        async with asyncio.timeout(10), Client(transport=transport(live_server, headers)) as ws:
            with pytest.raises(TransportQueryError) as refused:
                await anext(ws.subscribe(request))
        message = str(refused.value)
        assert ("not found" in message) if headers else ("log in" in message)
