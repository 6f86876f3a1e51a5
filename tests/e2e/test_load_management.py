"""Load management end to end: a 32 A circuit shared by three simulated sessions, then a
demand-response drop; the chargers receive the profiles, obey them, and their meters show it."""

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from sqlmodel import col, select

from app.db.models import Evse
from app.db.models.capacity import CapacityNodeKind, PhaseWiring
from app.db.types import utcnow
from app.domain.access import OperatorRole
from app.services import capacity
from app.services.capacity import create_node
from app.simulator import SimulatedStation, SimulationConfig, create_station
from tests.access_builders import (
    make_operator_user,
    operator_bearer,
    operator_headers,
    own_network,
)
from tests.conftest import LiveServer
from tests.factories import make_id_token, make_location, make_station
from tests.graphql.conftest import global_id
from tests.reservation_builders import bearer, make_driver

pytestmark = pytest.mark.e2e

PASSWORD = "station-password-0001"
PROTOCOLS = [pytest.param("1.6", id="ocpp16"), pytest.param("2.0.1", id="ocpp201")]
SET_LIMIT = """
    mutation Limit($node: ID!, $amps: Float!, $from: DateTime!, $to: DateTime!) {
      setCapacityLimit(input: {nodeId: $node, limitA: $amps, from: $from, to: $to}) {
        __typename
        ... on CapacityLimitPayload { node { limitANow } }
      }
    }
"""
WATCH = """
    subscription Watch($location: ID!) {
      allocationChanged(locationId: $location) { locationId evses { evseId limitA } }
    }
"""
VIEW = """
    query View($id: ID!) {
      capacityNode(id: $id) { limitANow allocatedA chargingLimits { limitA reason status } }
    }
"""
Profiles = dict[int, dict[str, Any]]


class Frames:
    """The SetChargingProfile CALLs a simulated station answered, as they arrive."""

    def __init__(self, station: SimulatedStation) -> None:
        self.arrived: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self.tx: Profiles = {}
        self.default: Profiles = {}
        self.station_max: dict[str, Any] | None = None
        record = station.answered

        def answered(action: str, payload: dict[str, Any]) -> None:
            record(action, payload)
            self.arrived.put_nowait((action, payload))

        station.answered = answered  # type: ignore[method-assign]

    async def until(self, done: Callable[["Frames"], bool]) -> None:
        async with asyncio.timeout(15):
            while not done(self):
                self._take(*await self.arrived.get())

    def drain(self) -> None:
        """Take in every profile the station has answered so far (the scheduler recomputes on
        each session start, so newer profiles may be queued behind the ones `until` needed)."""
        while not self.arrived.empty():
            self._take(*self.arrived.get_nowait())

    def _take(self, action: str, payload: dict[str, Any]) -> None:
        if action != "SetChargingProfile":
            return
        evse = int(payload.get("connector_id", payload.get("evse_id", 0)))
        profile = payload.get("cs_charging_profiles") or payload["charging_profile"]
        kind = profile["charging_profile_purpose"]
        if kind in ("ChargePointMaxProfile", "ChargingStationMaxProfile"):
            self.station_max = profile
            return
        (self.tx if kind == "TxProfile" else self.default)[evse] = profile


def limit_a(profile: dict[str, Any]) -> float:
    """The limit in force now: the first period (later ones are limit changes ahead)."""
    schedule = profile["charging_schedule"]
    schedule = schedule[0] if isinstance(schedule, list) else schedule
    assert schedule["charging_rate_unit"] == "A"
    period = schedule["charging_schedule_period"][0]
    assert period["start_period"] == 0
    assert period["number_phases"] == 3
    return float(period["limit"])


async def build_site(server: LiveServer, prefix: str) -> tuple[int, int]:
    """Grid 63 A → circuit 32 A → one station with three three-phase EVSEs; (circuit, location)."""
    factory = server.runtime.session_factory
    location = await make_location(factory)
    station = await make_station(
        factory, station_id=f"{prefix}-0001", password=PASSWORD, location=location, evses=3
    )
    async with factory() as db:
        evses = (
            await db.exec(
                select(Evse).where(Evse.station_id == station.id).order_by(col(Evse.ocpp_evse_id))
            )
        ).all()
    grid = await create_node(
        session_factory=factory, name="grid", kind=CapacityNodeKind.GRID,
        location_id=location.id, limit_a=63.0,
    )  # fmt: skip
    circuit = await create_node(
        session_factory=factory, name="circuit", kind=CapacityNodeKind.CIRCUIT,
        parent_id=grid.id, limit_a=32.0,
    )  # fmt: skip
    node = await create_node(
        session_factory=factory, name="station", kind=CapacityNodeKind.STATION,
        parent_id=circuit.id, station_id=station.id,
    )  # fmt: skip
    for evse in evses:
        await create_node(
            session_factory=factory, name=f"evse {evse.ocpp_evse_id}", kind=CapacityNodeKind.EVSE,
            parent_id=node.id, evse_id=evse.id, phases=PhaseWiring.L1L2L3,
        )  # fmt: skip
    assert circuit.id is not None
    assert location.id is not None
    return circuit.id, location.id


async def obeyed(station: SimulatedStation, frames: Frames) -> None:
    """Each EVSE's own meter reports at most the current its profile allows."""
    for number in (1, 2, 3):
        frames.drain()
        before = limit_a(frames.tx[number])
        sample = await station.send_meter_values(number)
        frames.drain()  # a profile answered while the sample was taken may already rule it
        assert sample.current_a <= max(before, limit_a(frames.tx[number])) + 0.05


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_three_sessions_share_a_32_a_circuit_and_follow_a_limit_drop(
    live_server: LiveServer, subscribed: asyncio.Queue[set[str]], protocol: str
) -> None:
    prefix = "LM16" if protocol == "1.6" else "LM201"
    circuit_id, location_id = await build_site(live_server, prefix)
    token = await make_id_token(live_server.runtime.session_factory)
    config = SimulationConfig(
        url=f"{live_server.ws_url}/ocpp", stations=1, protocol=protocol, password=PASSWORD,
        station_prefix=prefix, evses_per_station=3, dc_every=0,
    )  # fmt: skip
    station = create_station(config, 0)
    frames = Frames(station)
    async with station.connect():
        assert await station.boot() == "Accepted"
        for number in (1, 2, 3):
            await station.send_status(number, "Available")
        # A safe default on every EVSE: all three at once fit the circuit.
        await frames.until(lambda f: len(f.default) == 3 and f.station_max is not None)
        assert sum(limit_a(p) for p in frames.default.values()) <= 32.0
        assert frames.station_max is not None
        assert limit_a(frames.station_max) == 32.0  # the circuit, the tightest node above it

        charging = "Charging" if protocol == "1.6" else "Occupied"
        for number in (1, 2, 3):
            await station.start_transaction(number, token.uid)
            await station.send_status(number, charging)
        await frames.until(lambda f: len(f.tx) == 3)
        await frames.until(lambda f: sum(limit_a(p) for p in f.tx.values()) <= 32.0)
        assert all(limit_a(p) == 0 or limit_a(p) >= 6 for p in frames.tx.values())
        await obeyed(station, frames)

        runtime = live_server.runtime
        admin = await make_operator_user(runtime.session_factory, role=OperatorRole.ADMIN)
        await own_network(runtime.session_factory, admin.operator_id)
        headers = operator_bearer(runtime.tokens, admin)
        ws = WebsocketsTransport(url=f"{live_server.ws_url}/graphql", init_payload=headers)
        location = global_id("Location", location_id)
        async with asyncio.timeout(15), Client(transport=ws) as session:
            stream = session.subscribe(
                GraphQLRequest(WATCH, variable_values={"location": location})
            )
            first = asyncio.ensure_future(anext(stream))
            topic = capacity.allocation_changed(location_id)
            while await subscribed.get() != {topic}:
                pass  # the scheduler's own subscriptions
            async with httpx.AsyncClient(base_url=live_server.http_url, timeout=10) as http:
                now = utcnow()
                response = await http.post(
                    "/graphql",
                    json={
                        "query": SET_LIMIT,
                        "variables": {
                            "node": global_id("CapacityNode", circuit_id),
                            "amps": 13.0,
                            "from": (now - timedelta(minutes=1)).isoformat(),
                            "to": (now + timedelta(hours=1)).isoformat(),
                        },
                    },
                    headers=headers,
                )
            body = response.json()
            assert body["data"]["setCapacityLimit"] == {
                "__typename": "CapacityLimitPayload",
                "node": {"limitANow": 13.0},
            }, body
            event = (await first)["allocationChanged"]
            while all(e["limitA"] > 0 for e in event["evses"]):  # until the drop's pause
                event = (await anext(stream))["allocationChanged"]
            await stream.aclose()
        assert event["locationId"] == location
        assert event["evses"]
        assert all(e["limitA"] == 0 or e["limitA"] >= 6 for e in event["evses"])
        await frames.until(lambda f: sum(limit_a(p) for p in f.tx.values()) <= 13.0)
        frames.drain()
        limits = sorted(limit_a(p) for p in frames.tx.values())
        assert limits[0] == 0.0  # the minimums no longer fit: one session pauses
        assert all(a == 0 or a >= 6 for a in limits)
        await obeyed(station, frames)

        async with httpx.AsyncClient(base_url=live_server.http_url, timeout=10) as http:
            response = await http.post(
                "/graphql",
                json={"query": VIEW, "variables": {"id": global_id("CapacityNode", circuit_id)}},
                headers=headers,
            )
        view = response.json()["data"]["capacityNode"]
        assert view["limitANow"] == 13.0
        assert view["allocatedA"] <= 13.0
        assert sorted(x["limitA"] for x in view["chargingLimits"]) == limits
        assert any(x["reason"].startswith("paused") for x in view["chargingLimits"])


@pytest.mark.parametrize(
    ("caller", "refusal"),
    [("anonymous", "log in as an operator user"), ("driver", "for operator users"),
     ("other-organisation", "not found")],
)  # fmt: skip
async def test_allocation_changed_refuses_anyone_but_the_sites_operator(
    live_server: LiveServer, caller: str, refusal: str
) -> None:
    runtime = live_server.runtime
    owner = await make_operator_user(runtime.session_factory)
    location = await make_location(runtime.session_factory)
    await own_network(runtime.session_factory, owner.operator_id)
    init: dict[str, str] = {}
    if caller == "driver":
        driver_id, _ = await make_driver(runtime.session_factory)
        init = bearer(runtime.tokens, driver_id)
    elif caller == "other-organisation":
        init = await operator_headers(runtime.session_factory, runtime.tokens)
    ws = WebsocketsTransport(url=f"{live_server.ws_url}/graphql", init_payload=init)
    request = GraphQLRequest(
        WATCH, variable_values={"location": global_id("Location", location.id)}
    )
    async with asyncio.timeout(10), Client(transport=ws) as session:
        with pytest.raises(TransportQueryError, match=refusal):
            async for _ in session.subscribe(request):
                pass
