"""OCPP 2.0.1 NotifyEVChargingNeeds: the EV's energy and departure fill what the driver did
not give, and the scheduler hears of it on the network-wide session topic."""

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import select

from app.db.engine import SessionFactory
from app.db.models import ChargingSession, Evse
from app.events import InProcessEventBus, topics
from tests.factories import make_station
from tests.ocpp.harness import handlers201

STARTED = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


async def station_with_session(
    factory: SessionFactory, *, energy_wh: int | None, departure_at: datetime | None
) -> int:
    await make_station(factory, station_id="NEED-1")
    async with factory() as db:
        evse = (await db.exec(select(Evse).where(Evse.station_id == "NEED-1"))).one()
        assert evse.id is not None
        session = ChargingSession(
            station_id="NEED-1", evse_id=evse.id, transaction_id="tx-1", started_at=STARTED,
            requested_energy_wh=energy_wh, departure_at=departure_at,
        )  # fmt: skip
        db.add(session)
        await db.commit()
        assert session.id is not None
        return session.id


def needs(evse_id: int = 1, **ac: Any) -> dict[str, Any]:
    charging = {"requestedEnergyTransfer": "AC_three_phase",
                "departureTime": "2026-11-26T17:30:00Z",
                "acChargingParameters": {"energyAmount": 18_500, "evMinCurrent": 6,
                                         "evMaxCurrent": 16, "evMaxVoltage": 400} | ac}  # fmt: skip
    return {"evseId": evse_id, "chargingNeeds": charging}


@pytest.mark.parametrize(
    ("driver_energy", "driver_departure", "expected"),
    [
        pytest.param(None, None, (18_500, datetime(2026, 11, 26, 17, 30, tzinfo=UTC)),
                     id="ev-fills-both"),
        pytest.param(30_000, datetime(2026, 11, 26, 12, 0, tzinfo=UTC),
                     (30_000, datetime(2026, 11, 26, 12, 0, tzinfo=UTC)), id="driver-wins"),
    ],
)  # fmt: skip
async def test_the_ev_s_needs_fill_what_the_driver_left_empty(
    session_factory: SessionFactory,
    driver_energy: int | None,
    driver_departure: datetime | None,
    expected: tuple[int, datetime],
) -> None:
    session_id = await station_with_session(
        session_factory, energy_wh=driver_energy, departure_at=driver_departure
    )
    bus = InProcessEventBus()
    station, connection = handlers201(session_factory, None, "NEED-1", bus=bus)
    async with bus.subscribe(topics.ALL_SESSIONS) as events:
        await station.route_message(json.dumps([2, "n1", "NotifyEVChargingNeeds", needs()]))
        assert connection.sent == [[3, "n1", {"status": "Accepted"}]]
        if driver_energy is None:
            async with asyncio.timeout(5):
                _, payload = await events.get()
            assert (payload["type"], payload["session_id"]) == ("SessionNeedsChanged", session_id)
    async with session_factory() as db:
        session = await db.get(ChargingSession, session_id)
        assert session is not None
        assert (session.requested_energy_wh, session.departure_at) == expected


async def test_needs_without_a_session_are_rejected(session_factory: SessionFactory) -> None:
    await station_with_session(session_factory, energy_wh=None, departure_at=None)
    station, connection = handlers201(session_factory, None, "NEED-1")
    await station.route_message(json.dumps([2, "n2", "NotifyEVChargingNeeds", needs(evse_id=2)]))
    assert connection.sent == [[3, "n2", {"status": "Rejected"}]]
