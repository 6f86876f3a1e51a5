"""The driver's journey end to end, through GraphQL alone, against uvicorn and simulated 1.6 and
2.0.1 chargers: sign up, search, read the price, start, watch, stop, and read a receipt whose
cost is the tariff applied to the charger's own meter values, to the cent."""

import asyncio
import base64
from collections.abc import AsyncGenerator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport
from sqlmodel import select

from app.db.models import ChargingSession
from app.events import topics
from app.services.tariffs import assign_tariff, create_tariff
from app.simulator import SimulatedStation, SimulationConfig, create_station
from tests.conftest import LiveServer
from tests.factories import make_location, make_station

pytestmark = pytest.mark.e2e

PASSWORD = "station-password-0001"
# The tariff of this test, priced by hand below: €0.39 per kWh plus a €1.00 session fee, 21 % VAT.
ELEMENTS = [
    {
        "price_components": [
            {"type": "ENERGY", "price": "0.39", "step_size": 1},
            {"type": "FLAT", "price": "1.00", "step_size": 1},
        ]
    }
]

SIGN_UP = """
mutation($input: SignUpInput!) {
  signUp(input: $input) { __typename ... on AuthPayload { accessToken driver { email } } }
}"""
SEARCH = """
query($near: GeoPointInput!) {
  locations(filter: {near: $near, radiusMeters: 3000}, first: 5) {
    edges { node { id name distanceMeters evses { id uid status
      connectors { tariff { currency summary } } } } }
  }
}"""
PRICE = """
query($evse: ID!) {
  priceEstimate(evseId: $evse, kwh: 10, minutes: 60) {
    totalExclVat { amountMinor } totalInclVat { amountMinor currency formatted }
  }
}"""
START = """
mutation($input: StartSessionInput!) {
  startSession(input: $input) { __typename ... on CommandPayload { commandId status } }
}"""
STOP = """
mutation($input: StopSessionInput!) {
  stopSession(input: $input) { __typename ... on CommandPayload { commandId status } }
}"""
COMMAND = """
subscription($id: ID!) { commandResult(commandId: $id) { status session { id } } }
"""
WATCH = """
subscription($id: ID!) {
  sessionUpdated(sessionId: $id) { status energyWh costSoFar { amountMinor currency } }
}"""
RECEIPT = """
query($id: ID!) {
  receipt(sessionId: $id) {
    energyWh totalExclVat { amountMinor } totalVat { amountMinor }
    totalInclVat { amountMinor currency }
    breakdown { dimension inclVat { amountMinor } }
  }
}"""


def cents(amount: Decimal) -> int:
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def by_hand(energy_wh: int) -> tuple[int, int]:
    """(excl. VAT, incl. VAT) in cents for `energy_wh` on this test's tariff.

    Energy: Wh x 0.039 ct; session fee 100 ct; VAT 21 % of each, each rounded half-up once."""
    energy = Decimal(energy_wh) * Decimal("0.039")
    excl = cents(energy) + 100
    return excl, excl + cents(energy * Decimal("0.21")) + 21


class Api:
    """A driver app's view of chargenet: GraphQL over HTTP and WebSockets, nothing else."""

    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.headers: dict[str, str] = {}

    async def call(self, query: str, **variables: Any) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.server.http_url, timeout=10) as http:
            response = await http.post(
                "/graphql", json={"query": query, "variables": variables}, headers=self.headers
            )
        body: dict[str, Any] = response.json()
        assert "errors" not in body, body
        return body["data"]

    def socket(self) -> Client:
        transport = WebsocketsTransport(
            url=f"{self.server.ws_url}/graphql", init_payload=dict(self.headers)
        )
        return Client(transport=transport)

    async def final_command_status(self, command_id: str) -> dict[str, Any]:
        async with asyncio.timeout(15), self.socket() as ws:
            request = GraphQLRequest(COMMAND, variable_values={"id": command_id})
            results = [r["commandResult"] async for r in ws.subscribe(request)]
        return results[-1]


async def provision(server: LiveServer, protocol: str) -> SimulatedStation:
    factory = server.runtime.session_factory
    location = await make_location(factory, name="Journey", latitude=52.3702, longitude=4.8952)
    config = SimulationConfig(
        url=f"{server.ws_url}/ocpp", stations=1, protocol=protocol, password=PASSWORD,
        station_prefix="JRN", evses_per_station=1, time_scale=3600,
    )  # fmt: skip
    station = await make_station(
        factory, station_id=config.station_id(0), password=PASSWORD, location=location
    )
    tariff = await create_tariff(
        session_factory=factory, currency="EUR", elements=ELEMENTS, vat_percent="21"
    )
    await assign_tariff(session_factory=factory, tariff_id=tariff.id, station_ids=[station.id])
    return create_station(config, 0)


async def requested_start(charger: SimulatedStation) -> Any:
    """The remote start the charger accepted (its EVSE loop is not running: the test plays it)."""
    evse = charger.evses[1]
    async with asyncio.timeout(10):
        while not evse.start_requests:
            evse.wake.clear()
            await evse.wake.wait()
    return evse.start_requests.pop(0)


@pytest.mark.parametrize("protocol", ["1.6", "2.0.1"], ids=["ocpp16", "ocpp201"])
async def test_a_driver_finds_charges_and_pays_exactly_the_tariff(
    live_server: LiveServer, subscribed: asyncio.Queue[set[str]], protocol: str
) -> None:
    charger = await provision(live_server, protocol)
    api = Api(live_server)

    signed_up = await api.call(
        SIGN_UP, input={"email": "Ada@Example.org", "password": "correct horse 1", "name": "Ada"}
    )
    assert signed_up["signUp"]["__typename"] == "AuthPayload"
    assert signed_up["signUp"]["driver"]["email"] == "ada@example.org"
    api.headers = {"Authorization": f"Bearer {signed_up['signUp']['accessToken']}"}

    async with charger.connect():
        assert await charger.boot() == "Accepted"
        await charger.send_status(1, "Available")

        found = await api.call(SEARCH, near={"latitude": 52.3700, "longitude": 4.8950})
        (edge,) = found["locations"]["edges"]
        evse = edge["node"]["evses"][0]
        assert (edge["node"]["name"], evse["status"]) == ("Journey", "AVAILABLE")
        assert edge["node"]["distanceMeters"] < 50
        assert evse["connectors"][0]["tariff"]["currency"] == "EUR"

        # 10 kWh: 390 ct energy + 100 ct fee = 490 excl.; VAT 81.9 -> 82 and 21: 593 incl.
        price = (await api.call(PRICE, evse=evse["id"]))["priceEstimate"]
        assert price["totalExclVat"]["amountMinor"] == 490
        assert price["totalInclVat"]["amountMinor"] == 593

        started = (
            await api.call(START, input={"evseId": evse["id"], "clientMutationId": "journey-1"})
        )["startSession"]
        assert (started["__typename"], started["status"]) == ("CommandPayload", "PENDING")
        request = await requested_start(charger)
        tx = await charger.start_transaction(
            1, request.token, remote_start_id=request.remote_start_id
        )
        accepted = await api.final_command_status(started["commandId"])
        assert accepted["status"] == "ACCEPTED"
        session_id = accepted["session"]["id"]
        session_key = int(base64.b64decode(session_id).decode().split(":")[1])

        snapshots: list[dict[str, Any]] = []
        async with asyncio.timeout(20), api.socket() as ws:
            stream: AsyncGenerator[dict[str, Any], None] = ws.subscribe(
                GraphQLRequest(WATCH, variable_values={"id": session_id})
            )
            snapshots.append((await anext(stream))["sessionUpdated"])
            # Wait until the server listens for this session (earlier subscriptions of this
            # test are in the queue too), so no meter value below can be missed.
            while await subscribed.get() != {topics.session_updated(session_key)}:
                pass
            for _ in range(3):
                await charger.send_meter_values(1)
                snapshots.append((await anext(stream))["sessionUpdated"])

            stopped = (
                await api.call(STOP, input={"sessionId": session_id, "clientMutationId": "stop-1"})
            )["stopSession"]
            assert stopped["__typename"] == "CommandPayload"
            snapshots.extend([r["sessionUpdated"] async for r in stream])
        assert (await api.final_command_status(stopped["commandId"]))["status"] == "ACCEPTED"

    live = snapshots[1:4]
    energies = [s["energyWh"] for s in live]
    costs = [s["costSoFar"]["amountMinor"] for s in live]
    assert energies == sorted(set(energies)), "energy must rise with every meter value"
    assert costs == sorted(costs), "cost must never fall"
    assert costs[-1] > costs[0], "cost must rise with the energy"
    assert snapshots[-1]["status"] == "COMPLETED"

    async with live_server.runtime.session_factory() as db:
        (session,) = (await db.exec(select(ChargingSession))).all()
    # The energy is what the charger's own meter counted between start and stop.
    assert session.meter_stop_wh is not None
    assert session.energy_wh == session.meter_stop_wh - tx.meter_start_wh > 0

    receipt = (await api.call(RECEIPT, id=session_id))["receipt"]
    excl, incl = by_hand(session.energy_wh)
    assert receipt["energyWh"] == session.energy_wh
    assert receipt["totalExclVat"]["amountMinor"] == excl
    assert receipt["totalInclVat"] == {"amountMinor": incl, "currency": "EUR"}
    assert sum(line["inclVat"]["amountMinor"] for line in receipt["breakdown"]) == incl
    assert snapshots[-1]["costSoFar"]["amountMinor"] == incl
