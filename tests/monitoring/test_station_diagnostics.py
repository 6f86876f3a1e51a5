"""`stationDiagnostics`: one station's live state, firmware, configuration, open alerts, last
sessions and messages in one query, in a constant number of SQL statements; another
organisation's station is NOT_FOUND."""

import base64
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from app.db.engine import SessionFactory
from app.db.models import FirmwareUpdate, StationConfigurationEntry
from app.domain.access import OperatorRole
from app.domain.alerts import AlertSeverity, AlertSource
from app.domain.enums import EvseStatus, MessageDirection, MessageKind, OcppVersion
from app.domain.metering import ENERGY_IMPORT_REGISTER, POWER_IMPORT, MeterReading, SampledValue
from app.events import EventBus
from app.services import alerts, availability, stations, transactions
from app.services.message_log import LoggedFrame, write_frames
from app.services.stations import BootInfo
from tests.access_builders import make_operator_user, operator_bearer, operator_headers, own_network
from tests.factories import make_location, make_station
from tests.graphql.test_graphql_query_count import counting_statements

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
QUERY = """query($id: ID!) { stationDiagnostics(stationId: $id) {
  live { identity online connectivitySince connectivityReason lastMessageAt powerW
         station { identity online }
         evses { evse { uid } status statusSince errorCode powerW meterAt
                 activeSession { id startedAt energyWh powerW } } }
  firmware { vendor model serialNumber version ocppVersion lastBootAt latestUpdate { status } }
  configuration { key value }
  openAlerts { code state evseUid }
  recentSessions(first: 5) { status energyWh evse { uid } }
  recentMessages(first: 2) { hasNextPage messages { action } }
} }"""


def station_gid(identity: str) -> str:
    return base64.b64encode(f"ChargingStation:{identity}".encode()).decode()


@pytest.fixture
async def http(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def post(http: httpx.AsyncClient, headers: dict[str, str], identity: str) -> Any:
    response = await http.post(
        "/graphql", json={"query": QUERY, "variables": {"id": station_gid(identity)}},
        headers=headers,
    )  # fmt: skip
    assert response.status_code == 200
    return response.json()


def reading(at: datetime, *, register_wh: float, power_w: float) -> MeterReading:
    return MeterReading(
        timestamp=at,
        values=(
            SampledValue(measurand=ENERGY_IMPORT_REGISTER, value=register_wh, unit="Wh"),
            SampledValue(measurand=POWER_IMPORT, value=power_w, unit="W"),
        ),
    )


async def build_station(factory: SessionFactory, bus: EventBus, identity: str, evses: int) -> None:
    """A booted station: every EVSE charging (EVSE n at n kW), one finished session, an alert
    per EVSE, a configuration key, a firmware job and three logged messages."""
    await make_station(
        factory, station_id=identity, evses=evses, location=await make_location(factory)
    )
    await stations.record_connected(
        session_factory=factory, bus=bus, station_id=identity, ocpp_version=OcppVersion.V201, at=T0
    )
    await stations.record_boot(
        session_factory=factory, bus=bus, station_id=identity, at=T0,
        boot=BootInfo(vendor="Acme", model="AC22", serial_number="SN-1", firmware_version="1.2.3"),
    )  # fmt: skip
    done = await transactions.start_session(
        session_factory=factory, bus=bus, station_id=identity, ocpp_evse_id=1, id_token=None,
        meter_start_wh=0, started_at=T0 + timedelta(minutes=1),
    )  # fmt: skip
    await transactions.stop_session(
        session_factory=factory, bus=bus, station_id=identity, transaction_id=done.transaction_id,
        meter_stop_wh=500, ended_at=T0 + timedelta(minutes=2),
    )  # fmt: skip
    for number in range(1, evses + 1):
        at = T0 + timedelta(minutes=10 + number)
        await availability.record_status(
            session_factory=factory, bus=bus, station_id=identity, ocpp_evse_id=number,
            status=EvseStatus.CHARGING, at=at,
        )  # fmt: skip
        started = await transactions.start_session(
            session_factory=factory, bus=bus, station_id=identity, ocpp_evse_id=number,
            id_token=None, meter_start_wh=1000, started_at=at,
        )  # fmt: skip
        for minute, power in ((1, 500), (2, 1000 * number)):
            await transactions.record_meter_values(
                session_factory=factory, bus=bus, station_id=identity, ocpp_evse_id=number,
                transaction_id=started.transaction_id,
                readings=(reading(at + timedelta(minutes=minute), register_wh=1000 + 100 * minute,
                                  power_w=power),),
            )  # fmt: skip
    async with factory() as db:
        for number in range(1, evses + 1):
            await alerts.raise_alert(
                db, station_id=identity, evse_id=None, code=f"Fault{number}",
                severity=AlertSeverity.MAJOR, source=AlertSource.STATUS, at=T0,
            )  # fmt: skip
        db.add(StationConfigurationEntry(station_id=identity, key="HeartbeatInterval", value="60",
                                         read_at=T0))  # fmt: skip
        job = FirmwareUpdate(
            station_id=identity, location="https://fw.example/1.3.0.bin", retrieve_at=T0,
            status="Downloading", requested_by="noc",
        )  # fmt: skip
        db.add(job)
        await db.commit()
    await write_frames(
        session_factory=factory,
        frames=[
            LoggedFrame(station_id=identity, direction=MessageDirection.INBOUND,
                        kind=MessageKind.CALL, unique_id=f"m{i}", action=action, payload="[]",
                        at=T0 + timedelta(seconds=i))
            for i, action in enumerate(["BootNotification", "StatusNotification", "MeterValues"])
        ],
    )  # fmt: skip


async def test_one_query_tells_a_stations_state(app: Starlette, http: httpx.AsyncClient) -> None:
    runtime = app.state.runtime
    factory = runtime.session_factory
    await build_station(factory, runtime.bus, "DG-1", evses=2)
    viewer = await make_operator_user(factory, role=OperatorRole.VIEWER)
    await own_network(factory, viewer.operator_id)

    body = await post(http, operator_bearer(runtime.tokens, viewer), "DG-1")
    assert "errors" not in body, body
    data = body["data"]["stationDiagnostics"]
    live = data["live"]
    assert (live["identity"], live["online"], live["connectivityReason"]) == (
        "DG-1",
        True,
        "CONNECTED",
    )
    assert live["station"] == {"identity": "DG-1", "online": True}
    assert datetime.fromisoformat(live["connectivitySince"]) == T0
    assert datetime.fromisoformat(live["lastMessageAt"]) >= T0
    assert live["powerW"] == 1000 + 2000
    [evse1, evse2] = live["evses"]
    assert (evse1["evse"]["uid"], evse1["status"], evse1["powerW"]) == ("DG-1*1", "CHARGING", 1000)
    assert datetime.fromisoformat(evse1["statusSince"]) == T0 + timedelta(minutes=11)
    assert evse1["activeSession"]["energyWh"] == 200  # 1200 Wh register - 1000 Wh at start
    assert evse1["activeSession"]["powerW"] == 1000  # the latest sample, not the first
    assert datetime.fromisoformat(evse1["meterAt"]) == T0 + timedelta(minutes=13)
    assert (evse2["evse"]["uid"], evse2["powerW"]) == ("DG-1*2", 2000)
    assert data["firmware"] == {
        "vendor": "Acme", "model": "AC22", "serialNumber": "SN-1", "version": "1.2.3",
        "ocppVersion": "ocpp2.0.1", "lastBootAt": data["firmware"]["lastBootAt"],
        "latestUpdate": {"status": "Downloading"},
    }  # fmt: skip
    assert data["configuration"] == [{"key": "HeartbeatInterval", "value": "60"}]
    assert sorted(a["code"] for a in data["openAlerts"]) == ["Fault1", "Fault2"]
    sessions = data["recentSessions"]
    assert [s["status"] for s in sessions] == ["ACTIVE", "ACTIVE", "COMPLETED"]
    assert sessions[-1] == {"status": "COMPLETED", "energyWh": 500, "evse": {"uid": "DG-1*1"}}
    messages = data["recentMessages"]
    assert messages["hasNextPage"] is True
    assert [m["action"] for m in messages["messages"]] == ["MeterValues", "StatusNotification"]

    stranger = await operator_headers(factory, runtime.tokens, role=OperatorRole.ADMIN)
    refused = await post(http, stranger, "DG-1")
    assert refused["data"] is None
    assert refused["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    missing = await post(http, operator_bearer(runtime.tokens, viewer), "NO-SUCH")
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_statement_count_does_not_grow_with_the_station(
    app: Starlette, http: httpx.AsyncClient
) -> None:
    runtime = app.state.runtime
    factory = runtime.session_factory
    await build_station(factory, runtime.bus, "DG-S", evses=1)
    await build_station(factory, runtime.bus, "DG-L", evses=6)
    viewer = await make_operator_user(factory, role=OperatorRole.VIEWER)
    await own_network(factory, viewer.operator_id)
    headers = operator_bearer(runtime.tokens, viewer)
    engine: AsyncEngine = runtime.engine
    await post(http, headers, "DG-S")  # warm up connections and caches

    counts = {}
    for identity, evses in (("DG-S", 1), ("DG-L", 6)):
        with counting_statements(engine) as statements:
            body = await post(http, headers, identity)
        assert "errors" not in body, body
        data = body["data"]["stationDiagnostics"]
        assert len(data["live"]["evses"]) == evses
        assert len(data["openAlerts"]) == evses
        assert len(data["recentSessions"]) == min(5, evses + 1)
        counts[identity] = len(statements)
    assert counts["DG-S"] == counts["DG-L"], counts
    # Scope, live state (4), configuration, alerts, their EVSEs, sessions, their EVSEs, and
    # the message log (scope + page).
    assert counts["DG-S"] <= 12, counts
