"""Heartbeats: an online station's moves one timestamp; an offline one's brings it back."""

import json
from datetime import UTC, datetime

import pytest
from sqlmodel import select

from app.db.engine import SessionFactory
from app.db.models import ChargingStation, StationConnectivityInterval
from app.services.group_commit import GroupCommit
from tests.factories import make_station
from tests.ocpp.harness import handlers16


async def _heartbeat(session_factory: SessionFactory, group: GroupCommit | None, sid: str) -> None:
    cp, captured = handlers16(session_factory, group, sid)
    await cp.route_message(json.dumps([2, "hb", "Heartbeat", {}]))
    assert [answer[:2] for answer in captured.sent] == [[3, "hb"]]


async def _state(
    session_factory: SessionFactory, sid: str
) -> tuple[ChargingStation, list[StationConnectivityInterval]]:
    async with session_factory() as db:
        station = await db.get(ChargingStation, sid)
        assert station is not None
        statement = select(StationConnectivityInterval).where(
            StationConnectivityInterval.station_id == sid
        )
        return station, list((await db.exec(statement)).all())


@pytest.mark.parametrize("online", [True, False], ids=["online", "offline"])
async def test_a_heartbeat_moves_last_heartbeat_and_brings_an_offline_station_back(
    session_factory: SessionFactory, group: GroupCommit | None, online: bool
) -> None:
    station = await make_station(session_factory)
    earlier = datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    async with session_factory() as db:
        row = await db.get(ChargingStation, station.id)
        assert row is not None
        row.online, row.last_heartbeat_at = online, earlier
        await db.commit()
    await _heartbeat(session_factory, group, station.id)
    row, intervals = await _state(session_factory, station.id)
    assert row.online
    assert row.last_heartbeat_at is not None
    assert row.last_heartbeat_at > earlier
    # Only a station found silent gets a new connectivity interval.
    expected = [] if online else [(True, "HEARTBEAT")]
    assert [(i.online, i.reason) for i in intervals] == expected
