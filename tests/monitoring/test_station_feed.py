"""The stationUpdated feed on a real bus and database, with the clock driven by the test: power
changes are coalesced per station, everything else goes at once, other stations never pass."""

import asyncio
from collections.abc import AsyncGenerator
from datetime import UTC, datetime

from app.db.engine import SessionFactory
from app.events import InProcessEventBus, topics
from app.services.station_feed import station_changes

LOCATION = 7


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def power(session_id: int, station_id: str) -> dict[str, object]:
    return {"type": "SessionUpdated", "session_id": session_id, "station_id": station_id,
            "power_w": 7400}  # fmt: skip


def lifecycle(kind: str) -> dict[str, object]:
    at = datetime.now(UTC).isoformat()
    return {"type": kind, "session_id": 1, "station_id": "S1", "evse_id": 1, "at": at}


async def next_batch(changes: AsyncGenerator[list[str], None]) -> list[str]:
    async with asyncio.timeout(10):
        return await anext(changes)


async def test_power_is_coalesced_and_status_is_not(session_factory: SessionFactory) -> None:
    bus, clock = InProcessEventBus(), Clock()
    changes = station_changes(
        bus=bus, session_factory=session_factory, stations={"S1": LOCATION, "S2": LOCATION},
        coalesce_s=1.0, clock=clock,
    )  # fmt: skip
    try:
        assert await next_batch(changes) == []  # listening
        await bus.publish(topics.ALL_SESSIONS, lifecycle("SessionStarted"))
        assert await next_batch(changes) == ["S1"]  # a session start goes at once

        clock.now = 0.5
        for _ in range(3):  # three meter values within the second: held back
            await bus.publish(topics.session_updated(1), power(1, "S1"))
        # Same subscription, so delivered after the three: S2 never sent anything, so its
        # change goes at once, and S1's held power is not in that batch.
        await bus.publish(topics.session_updated(1), power(1, "S2"))
        assert await next_batch(changes) == ["S2"]

        clock.now = 1.0  # S1's second is over: one batch for its three changes
        assert await next_batch(changes) == ["S1"]

        clock.now = 1.2  # a status change right after: at once, however recent the last
        await bus.publish(topics.evse_status(LOCATION), {"type": "EvseStatusChanged",
                                                          "station_id": "S1"})  # fmt: skip
        await bus.publish(topics.evse_status(LOCATION), {"type": "EvseStatusChanged",
                                                          "station_id": "OTHER"})  # fmt: skip
        await bus.publish(topics.station_status("S2"), {"type": "StationDisconnected",
                                                         "station_id": "S2"})  # fmt: skip
        assert await next_batch(changes) == ["S1"]
        assert await next_batch(changes) == ["S2"]  # OTHER is not watched: skipped

        await bus.publish(topics.ALL_SESSIONS, lifecycle("SessionEnded"))
        assert await next_batch(changes) == ["S1"]
        assert bus.subscriber_count(topics.session_updated(1)) == 0  # no longer followed
    finally:
        await changes.aclose()
    assert bus.subscriber_count(topics.ALL_SESSIONS) == 0
