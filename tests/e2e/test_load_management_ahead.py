"""Profiles a station holds without the backend, over a real WebSocket: a station-max profile
at boot, and a demand-response drop set for later already in the station's schedules."""

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from app.db.types import utcnow
from app.domain.access import OperatorRole
from app.events import topics
from app.services import capacity
from app.simulator import SimulationConfig, create_station
from tests.access_builders import make_operator_user, operator_bearer, own_network
from tests.conftest import LiveServer
from tests.e2e.test_load_management import PASSWORD, PROTOCOLS, SET_LIMIT, Frames, build_site
from tests.graphql.conftest import global_id

pytestmark = pytest.mark.e2e


def periods(profile: dict[str, Any]) -> tuple[datetime | None, list[tuple[int, float]]]:
    """(startSchedule, [(startPeriod, limit A)]) of a 1.6 or 2.0.1 profile."""
    schedule = profile["charging_schedule"]
    schedule = schedule[0] if isinstance(schedule, list) else schedule
    assert schedule["charging_rate_unit"] == "A"
    start = schedule.get("start_schedule")
    return (
        datetime.fromisoformat(start) if start else None,
        [(p["start_period"], float(p["limit"])) for p in schedule["charging_schedule_period"]],
    )


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_a_limit_drop_set_for_later_reaches_the_station_as_a_schedule(
    live_server: LiveServer, subscribed: asyncio.Queue[set[str]], protocol: str
) -> None:
    prefix = "AH16" if protocol == "1.6" else "AH201"
    circuit_id, location_id = await build_site(live_server, prefix)
    # As the tree mutations do: the scheduler learns of the site and watches its station.
    await live_server.runtime.bus.publish(
        capacity.LIMITS_CHANGED,
        {"type": "CapacityNodeAdded", "node_id": circuit_id, "location_id": location_id},
    )
    async with asyncio.timeout(15):
        while topics.station_status(f"{prefix}-0001") not in await subscribed.get():
            pass
    config = SimulationConfig(
        url=f"{live_server.ws_url}/ocpp", stations=1, protocol=protocol, password=PASSWORD,
        station_prefix=prefix, evses_per_station=3, dc_every=0,
    )  # fmt: skip
    station = create_station(config, 0)
    frames = Frames(station)
    max_purpose = "ChargePointMaxProfile" if protocol == "1.6" else "ChargingStationMaxProfile"
    async with station.connect():
        assert await station.boot() == "Accepted"
        # At boot: a station-max profile on the whole station (connector / EVSE 0) with the
        # circuit's 32 A (the station node has no limit of its own), and a safe default per EVSE.
        await frames.until(lambda f: len(f.default) == 3 and f.station_max is not None)
        capped = [(n, p) for n, p in station.charging_profiles if n == 0]
        assert [p["charging_profile_purpose"] for _, p in capped] == [max_purpose]
        start, cap = periods(capped[0][1])
        assert start is not None
        assert cap == [(0, 32.0)]
        assert all(periods(p)[1] == [(0, 10.6)] for p in frames.default.values())

        runtime = live_server.runtime
        admin = await make_operator_user(runtime.session_factory, role=OperatorRole.ADMIN)
        await own_network(runtime.session_factory, admin.operator_id)
        now = utcnow().replace(microsecond=0)
        drop_at, back_at = now + timedelta(minutes=30), now + timedelta(minutes=90)
        async with httpx.AsyncClient(base_url=live_server.http_url, timeout=10) as http:
            response = await http.post(
                "/graphql",
                json={
                    "query": SET_LIMIT,
                    "variables": {
                        "node": global_id("CapacityNode", circuit_id),
                        "amps": 13.0,
                        "from": drop_at.isoformat(),
                        "to": back_at.isoformat(),
                    },
                },
                headers=operator_bearer(runtime.tokens, admin),
            )
        assert response.json()["data"]["setCapacityLimit"] == {
            "__typename": "CapacityLimitPayload",
            "node": {"limitANow": 32.0},  # not yet in force
        }
        await frames.until(
            lambda f: f.station_max is not None and len(periods(f.station_max)[1]) == 3
        )
        await frames.until(lambda f: all(len(periods(p)[1]) == 3 for p in f.default.values()))
        assert utcnow() < drop_at  # the drop is on the station before it starts

    assert frames.station_max is not None
    start, cap = periods(frames.station_max)
    assert start is not None
    assert [limit for _, limit in cap] == [32.0, 13.0, 32.0]
    # Each change on the station's clock: a drop at or up to 1 s before, a rise up to 1 s after.
    assert drop_at - timedelta(seconds=1) < start + timedelta(seconds=cap[1][0]) <= drop_at
    assert back_at <= start + timedelta(seconds=cap[2][0]) < back_at + timedelta(seconds=1)
    for profile in frames.default.values():
        start, default = periods(profile)
        assert profile["charging_profile_kind"] == "Absolute"
        # 13 A over three EVSEs is below the 6 A a pilot can signal: no default then.
        assert [limit for _, limit in default] == [10.6, 0.0, 10.6]
        assert [s for s, _ in default] == [s for s, _ in cap]
