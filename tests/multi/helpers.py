"""Clients of a cluster's instances: GraphQL over HTTP and WebSocket, simulated chargers."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport
from sqlmodel import col, func, select

from app.db.engine import SessionFactory
from app.db.models import ChargingSession, Evse, Location, RemoteCommand
from app.simulator import SimulatedStation, SimulationConfig, create_station
from app.simulator.model import StartRequest
from tests.factories import make_station
from tests.graphql.conftest import global_id
from tests.multi.cluster import Instance

PASSWORD = "station-password-0001"
START = """
mutation S($input: StartSessionInput!) {
  startSession(input: $input) { __typename ... on CommandPayload { commandId status } }
}
"""
RESULT = """
subscription R($id: ID!) { commandResult(commandId: $id) { commandId status session { id } } }
"""


async def graphql(
    instance: Instance, query: str, headers: dict[str, str], **variables: Any
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=instance.http_url, timeout=15) as http:
        response = await http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]


async def start(
    instance: Instance, headers: dict[str, str], evse_id: int, mutation_id: str
) -> dict[str, Any]:
    variables = {"evseId": global_id("Evse", evse_id), "clientMutationId": mutation_id}
    data = await graphql(instance, START, headers, input=variables)
    result: dict[str, Any] = data["startSession"]
    assert result["__typename"] == "CommandPayload", result
    return result


async def outcome(instance: Instance, headers: dict[str, str], command_id: str) -> list[str]:
    """Every commandResult status on `instance` until the subscription ends (final), bounded."""
    transport = WebsocketsTransport(
        url=f"{instance.ws_url}/graphql", init_payload={"Authorization": headers["Authorization"]}
    )
    seen: list[str] = []
    async with asyncio.timeout(15), Client(transport=transport) as session:
        request = GraphQLRequest(RESULT, variable_values={"id": command_id})
        async for result in session.subscribe(request):
            seen.append(result["commandResult"]["status"])
    return seen


def charger(instance: Instance, station_id: str, protocol: str = "2.0.1") -> SimulatedStation:
    """A simulated charger (one EVSE) pointed at `instance`; `station.url` may be changed."""
    prefix, number = station_id.rsplit("-", 1)
    config = SimulationConfig(
        url=f"{instance.ws_url}/ocpp", stations=int(number), protocol=protocol,
        password=PASSWORD, station_prefix=prefix, evses_per_station=1, time_scale=3600,
    )  # fmt: skip
    station = create_station(config, int(number) - 1)
    assert station.station_id == station_id
    return station


async def provision(
    db: SessionFactory, station_id: str, location: Location | None = None, evses: int = 1
) -> int:
    """The station in the database; returns the id of its first EVSE."""
    await make_station(db, station_id=station_id, password=PASSWORD, location=location, evses=evses)
    async with db() as session:
        evse = (
            await session.exec(
                select(Evse).where(Evse.station_id == station_id, Evse.ocpp_evse_id == 1)
            )
        ).one()
    assert evse.id is not None
    return evse.id


@asynccontextmanager
async def online(station: SimulatedStation) -> AsyncIterator[SimulatedStation]:
    """Connected, booted (Accepted: the instance has recorded it) and Available."""
    async with station.connect():
        assert await station.boot() == "Accepted"
        await station.send_status(1, "Available")
        yield station


async def requested_start(station: SimulatedStation) -> StartRequest:
    evse = station.evses[1]
    async with asyncio.timeout(10):
        while not evse.start_requests:
            evse.wake.clear()
            await evse.wake.wait()
    return evse.start_requests.pop(0)


async def counts(db: SessionFactory, station_id: str) -> tuple[int, int]:
    """(charging sessions, remote commands) of the station's EVSEs."""
    async with db() as session:
        evse_ids = select(Evse.id).where(Evse.station_id == station_id)
        sessions = await session.scalar(
            select(func.count())
            .select_from(ChargingSession)
            .where(col(ChargingSession.evse_id).in_(evse_ids))
        )
        commands = await session.scalar(
            select(func.count())
            .select_from(RemoteCommand)
            .where(col(RemoteCommand.evse_id).in_(evse_ids))
        )
    return int(sessions or 0), int(commands or 0)
