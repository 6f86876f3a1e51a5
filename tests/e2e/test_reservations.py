"""Reservations end to end: GraphQL → ReserveNow on the wire → simulated 1.6 and 2.0.1 chargers
→ their StatusNotification shows the EVSE RESERVED; cancel, backend expiry and use free it."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import select

from app.db.models import Evse, Reservation
from app.domain.enums import EvseStatus
from app.events import Subscription, topics
from app.services.reservation_lifecycle import expire_due
from app.simulator import SimulatedStation, SimulationConfig, create_station
from tests.conftest import LiveServer
from tests.factories import make_station
from tests.graphql.conftest import global_id
from tests.reservation_builders import bearer, make_driver

pytestmark = pytest.mark.e2e

PASSWORD = "station-password-0001"
PROTOCOLS = [pytest.param("1.6", id="ocpp16"), pytest.param("2.0.1", id="ocpp201")]
RESERVE = """
    mutation Reserve($evseId: ID!, $minutes: Int!) {
      reserveEvse(input: {evseId: $evseId, minutes: $minutes}) {
        __typename
        ... on ReservationPayload { reservation { id status expiresAt evse { status } } }
        ... on ReservationRejected { message stationStatus reservation { status } }
      }
    }
"""
CANCEL = """
    mutation Cancel($id: ID!) {
      cancelReservation(input: {reservationId: $id}) {
        __typename
        ... on ReservationPayload { reservation { status } }
        ... on ReservationNotFound { message }
      }
    }
"""
MINE = "query { me { reservations { id status } } }"


@asynccontextmanager
async def charger(server: LiveServer, protocol: str) -> AsyncIterator[SimulatedStation]:
    """A booted simulated charger with one Available EVSE, answering the CSMS's CALLs."""
    await make_station(server.runtime.session_factory, station_id="RSV-0001", password=PASSWORD)
    config = SimulationConfig(
        url=f"{server.ws_url}/ocpp", stations=1, protocol=protocol, password=PASSWORD,
        station_prefix="RSV", evses_per_station=1,
    )  # fmt: skip
    station = create_station(config, 0)
    async with station.connect():
        assert await station.boot() == "Accepted"
        await station.send_status(1, "Available")
        yield station


async def graphql(
    server: LiveServer, query: str, headers: dict[str, str] | None = None, **variables: Any
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.http_url, timeout=10) as http:
        response = await http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers or {}
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def next_status(events: Subscription, expected: EvseStatus) -> None:
    async with asyncio.timeout(10):
        async for _, payload in events:
            if payload["status"] == expected.value:
                return


async def evse_of(server: LiveServer) -> Evse:
    async with server.runtime.session_factory() as db:
        evse = (await db.exec(select(Evse).where(Evse.station_id == "RSV-0001"))).one()
    return evse


async def reservation_status(server: LiveServer, reservation_id: int) -> str:
    async with server.runtime.session_factory() as db:
        row = await db.get(Reservation, reservation_id)
    assert row is not None
    return row.status


def calls(station: SimulatedStation, action: str) -> list[dict[str, Any]]:
    return [payload for name, payload in station.received if name == action]


async def reserve(server: LiveServer, evse: Evse, headers: dict[str, str]) -> dict[str, Any]:
    body = await graphql(server, RESERVE, headers, evseId=global_id("Evse", evse.id), minutes=15)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["reserveEvse"]
    return result


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_reserve_sends_reserve_now_and_the_charger_reports_reserved_then_cancel_frees(
    live_server: LiveServer, protocol: str
) -> None:
    runtime = live_server.runtime
    driver_id, token = await make_driver(runtime.session_factory)
    headers = bearer(runtime.tokens, driver_id)
    async with (
        charger(live_server, protocol) as station,
        runtime.bus.subscribe(topics.ALL_EVSE_STATUS) as events,
    ):
        evse = await evse_of(live_server)
        result = await reserve(live_server, evse, headers)
        assert result["__typename"] == "ReservationPayload"
        assert result["reservation"]["status"] == "ACTIVE"
        await next_status(events, EvseStatus.RESERVED)  # reported by the charger, not faked

        [sent] = calls(station, "ReserveNow")
        if protocol == "1.6":
            assert sent["connector_id"] == 1
            assert sent["id_tag"] == token
            reservation_id = sent["reservation_id"]
            assert sent["expiry_date"]
        else:
            assert sent["evse_id"] == 1
            assert sent["id_token"] == {"id_token": token, "type": "Central"}
            reservation_id = sent["id"]
            assert sent["expiry_date_time"]
        assert result["reservation"]["id"] == global_id("Reservation", reservation_id)
        assert station.evses[1].status == "Reserved"

        body = await graphql(live_server, CANCEL, headers, id=result["reservation"]["id"])
        assert body["data"]["cancelReservation"] == {
            "__typename": "ReservationPayload",
            "reservation": {"status": "CANCELLED"},
        }
        await next_status(events, EvseStatus.AVAILABLE)
        assert calls(station, "CancelReservation") == [{"reservation_id": reservation_id}]
    assert await reservation_status(live_server, reservation_id) == "CANCELLED"


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_the_backend_expires_a_reservation_and_tells_the_charger(
    live_server: LiveServer, protocol: str
) -> None:
    runtime = live_server.runtime
    driver_id, _ = await make_driver(runtime.session_factory)
    async with (
        charger(live_server, protocol) as station,
        runtime.bus.subscribe(topics.ALL_EVSE_STATUS) as events,
    ):
        evse = await evse_of(live_server)
        result = await reserve(live_server, evse, bearer(runtime.tokens, driver_id))
        await next_status(events, EvseStatus.RESERVED)
        async with runtime.session_factory() as db:
            row = (await db.exec(select(Reservation))).one()
        assert row.id is not None
        # The sweep with a clock past the expiry; the charger's own timer is 15 minutes away.
        expired = await expire_due(
            session_factory=runtime.session_factory,
            commander=runtime.registry,
            now=row.expires_at + timedelta(seconds=1),
        )
        assert expired == [row.id]
        await next_status(events, EvseStatus.AVAILABLE)
        assert calls(station, "CancelReservation") == [{"reservation_id": row.id}]
    assert await reservation_status(live_server, row.id) == "EXPIRED"
    assert result["reservation"]["status"] == "ACTIVE"


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_charging_with_the_reservation_token_marks_it_used(
    live_server: LiveServer, protocol: str
) -> None:
    runtime = live_server.runtime
    driver_id, token = await make_driver(runtime.session_factory)
    async with (
        charger(live_server, protocol) as station,
        runtime.bus.subscribe(topics.ALL_EVSE_STATUS) as events,
    ):
        evse = await evse_of(live_server)
        result = await reserve(live_server, evse, bearer(runtime.tokens, driver_id))
        await next_status(events, EvseStatus.RESERVED)
        tx = await station.start_transaction(1, token)
    assert tx.reservation_id is not None  # the start named the reservation on the wire
    assert await reservation_status(live_server, tx.reservation_id) == "USED"
    assert result["reservation"]["id"] == global_id("Reservation", tx.reservation_id)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_charger_refusing_gives_rejected(live_server: LiveServer, protocol: str) -> None:
    runtime = live_server.runtime
    driver_id, _ = await make_driver(runtime.session_factory)
    async with charger(live_server, protocol) as station:
        station.evses[1].operative = False  # out of service, not reported to the backend yet
        evse = await evse_of(live_server)
        result = await reserve(live_server, evse, bearer(runtime.tokens, driver_id))
    assert result == {
        "__typename": "ReservationRejected",
        "message": "the charger refused the reservation (Unavailable)",
        "stationStatus": "Unavailable",
        "reservation": {"status": "REJECTED"},
    }


async def test_another_driver_can_neither_cancel_nor_see_it(live_server: LiveServer) -> None:
    runtime = live_server.runtime
    owner, _ = await make_driver(runtime.session_factory)
    other, _ = await make_driver(runtime.session_factory)
    async with charger(live_server, "2.0.1") as station:
        evse = await evse_of(live_server)
        result = await reserve(live_server, evse, bearer(runtime.tokens, owner))
        reservation_gid = result["reservation"]["id"]
        body = await graphql(live_server, CANCEL, bearer(runtime.tokens, other), id=reservation_gid)
        assert body["data"]["cancelReservation"]["__typename"] == "ReservationNotFound"
        assert calls(station, "CancelReservation") == []
        seen = await graphql(live_server, MINE, bearer(runtime.tokens, other))
        assert seen["data"]["me"]["reservations"] == []
        anonymous = await graphql(live_server, CANCEL, id=reservation_gid)
        assert anonymous["data"] is None
        assert "log in first" in anonymous["errors"][0]["message"]
        mine = await graphql(live_server, MINE, bearer(runtime.tokens, owner))
    assert mine["data"]["me"]["reservations"] == [{"id": reservation_gid, "status": "ACTIVE"}]
