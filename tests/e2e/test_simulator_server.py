"""The simulator against the real server: mixed 1.6 and 2.0.1 stations store charged sessions."""

import asyncio

import pytest
from sqlmodel import select

from app.db.models import ChargingSession
from app.events import topics
from app.simulator import SimulationConfig, run_simulation
from tests.conftest import LiveServer
from tests.factories import make_id_token, make_station

pytestmark = pytest.mark.e2e


async def test_simulated_network_charges_against_the_server(live_server: LiveServer) -> None:
    factory = live_server.runtime.session_factory
    token = await make_id_token(factory, uid="SIMTOKEN01")
    passwords = {"SIM-0001": "pw-one-1234", "SIM-0002": "pw-two-5678"}
    for station_id, password in passwords.items():
        await make_station(factory, station_id=station_id, password=password, evses=2)
    config = SimulationConfig(
        url=f"{live_server.ws_url}/ocpp",
        stations=2,
        protocol="mixed",
        password=passwords,
        id_tokens=(token.uid,),
        time_scale=600,
        meter_interval_s=60,
        duration_s=30,
    )
    stop = asyncio.Event()
    bus = live_server.runtime.bus
    async with bus.subscribe(topics.ALL_EVSE_STATUS) as events:
        simulation = asyncio.create_task(run_simulation(config, stop=stop))
        try:
            # a station reports Available after Charging only once its stop was answered
            done: set[str] = set()
            async with asyncio.timeout(30):
                while done != set(passwords):
                    _, event = await events.get()
                    if event["previous_status"] == "CHARGING" and event["status"] == "AVAILABLE":
                        done.add(event["station_id"])
        finally:
            stop.set()
            async with asyncio.timeout(20):
                stats = await simulation

    async with factory() as db:
        sessions = (await db.exec(select(ChargingSession))).all()
    finished = [s for s in sessions if s.meter_stop_wh is not None]
    assert {s.station_id for s in finished} == set(passwords)  # one 1.6 and one 2.0.1 station
    assert all(s.energy_wh > 0 for s in finished)
    assert all(s.id_token == token.uid for s in sessions)
    assert stats.transactions_started >= 2
    assert stats.transactions_stopped == stats.transactions_started
    assert stats.reconnects == 0
    assert stats.errors == 0
