"""me.sessions and receipt over HTTP: newest first, pagination, receipts, and access."""

from datetime import UTC, datetime, timedelta

from starlette.applications import Starlette

from app.db.engine import SessionFactory
from app.db.models import Driver, IdToken
from app.events import InProcessEventBus
from app.services import tariffs, transactions
from app.services.auth import Principal, PrincipalKind
from app.services.demo import create_demo_tariffs
from tests.factories import make_location, make_station
from tests.graphql.conftest import GraphQLClient, global_id

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

SESSIONS = """
query Sessions($first: Int, $after: String) {
  me { sessions(first: $first, after: $after) {
    edges { cursor node { id status energyKwh startedAt endedAt
      costSoFar { amountMinor currency formatted }
      location { name } evse { uid }
      receipt { totalInclVat { amountMinor } energyWh } } }
    pageInfo { hasNextPage endCursor }
  } }
}
"""

RECEIPT = """
query Receipt($sessionId: ID!) {
  receipt(sessionId: $sessionId) {
    sessionId energyWh energyKwh chargingTimeSeconds idleTimeSeconds stopReason evseUid
    totalExclVat { amountMinor } totalVat { amountMinor }
    totalInclVat { amountMinor currency formatted }
    breakdown { dimension inclVat { amountMinor } }
    tariff { summary }
    chargingPeriods { charging dimensions { type volume } }
    location { name }
  }
}
"""


async def make_driver(app: Starlette, session_factory: SessionFactory, uid: str) -> tuple[int, str]:
    async with session_factory() as db:
        driver = Driver(email=f"{uid.lower()}@example.com", password_hash="x")
        db.add(driver)
        await db.flush()
        assert driver.id is not None
        db.add(IdToken(uid=uid, driver_id=driver.id))
        await db.commit()
    token, _ = app.state.runtime.tokens.issue(Principal(PrincipalKind.DRIVER, driver.id))
    return driver.id, token


async def charge(session_factory: SessionFactory, station_id: str, uid: str, day: int) -> int:
    """A finished 1.6 session: 10 kWh in one hour, `day` days after T0."""
    bus = InProcessEventBus()
    start = T0 + timedelta(days=day)
    started = await transactions.start_session(
        session_factory=session_factory,
        bus=bus,
        station_id=station_id,
        ocpp_evse_id=1,
        id_token=uid,
        meter_start_wh=0,
        started_at=start,
    )
    await transactions.stop_session(
        session_factory=session_factory,
        bus=bus,
        station_id=station_id,
        transaction_id=started.transaction_id,
        meter_stop_wh=10_000,
        ended_at=start + timedelta(hours=1),
        reason="Local",
    )
    return started.session_id


async def network(session_factory: SessionFactory) -> str:
    location = await make_location(session_factory, name="Damrak")
    station = await make_station(session_factory, location=location)
    ac, _ = await create_demo_tariffs(session_factory=session_factory)
    await tariffs.assign_tariff(
        session_factory=session_factory, tariff_id=ac.id, station_ids=[station.id]
    )
    return station.id


async def test_sessions_are_the_callers_own_newest_first_with_receipts(
    app: Starlette, graphql: GraphQLClient, session_factory: SessionFactory
) -> None:
    station_id = await network(session_factory)
    _, token = await make_driver(app, session_factory, "ADA")
    await make_driver(app, session_factory, "BOB")
    mine = [await charge(session_factory, station_id, "ADA", day) for day in range(3)]
    await charge(session_factory, station_id, "BOB", 5)
    graphql.http.headers["Authorization"] = f"Bearer {token}"
    first = (await graphql.data(SESSIONS, first=2))["me"]["sessions"]
    ids = [edge["node"]["id"] for edge in first["edges"]]
    assert ids == [global_id("ChargingSession", mine[2]), global_id("ChargingSession", mine[1])]
    assert first["pageInfo"]["hasNextPage"] is True
    node = first["edges"][0]["node"]
    # 10 kWh x 0.39 = 3.90 excl. + 0.819 -> 0.82 VAT = 4.72; no idle time
    assert node["costSoFar"] == {"amountMinor": 472, "currency": "EUR", "formatted": "€4.72"}
    assert node["receipt"] == {"totalInclVat": {"amountMinor": 472}, "energyWh": 10_000}
    assert (node["status"], node["energyKwh"], node["location"]["name"]) == (
        "COMPLETED",
        10.0,
        "Damrak",
    )
    rest = (await graphql.data(SESSIONS, first=2, after=first["pageInfo"]["endCursor"]))["me"]
    assert [e["node"]["id"] for e in rest["sessions"]["edges"]] == [
        global_id("ChargingSession", mine[0])
    ]
    assert rest["sessions"]["pageInfo"]["hasNextPage"] is False
    errors = await graphql.error_messages(SESSIONS, first=500)
    assert "first must be from 1 to 100" in errors[0]


async def test_receipt_for_the_owner_only(
    app: Starlette, graphql: GraphQLClient, session_factory: SessionFactory
) -> None:
    station_id = await network(session_factory)
    _, ada = await make_driver(app, session_factory, "ADA")
    _, bob = await make_driver(app, session_factory, "BOB")
    session_id = await charge(session_factory, station_id, "ADA", 0)
    sid = global_id("ChargingSession", session_id)
    graphql.http.headers["Authorization"] = f"Bearer {ada}"
    receipt = (await graphql.data(RECEIPT, sessionId=sid))["receipt"]
    assert receipt["totalInclVat"] == {"amountMinor": 472, "currency": "EUR", "formatted": "€4.72"}
    assert (receipt["totalExclVat"], receipt["totalVat"]) == (
        {"amountMinor": 390},
        {"amountMinor": 82},
    )
    assert (receipt["energyKwh"], receipt["chargingTimeSeconds"], receipt["idleTimeSeconds"]) == (
        10.0,
        3600,
        0,
    )
    assert receipt["tariff"]["summary"] == "€0.39/kWh; €0.10/min idle after 1 h"
    assert receipt["chargingPeriods"] == [
        {"charging": True, "dimensions": [{"type": "ENERGY", "volume": "10"}]}
    ]
    assert receipt["location"] == {"name": "Damrak"}

    graphql.http.headers["Authorization"] = f"Bearer {bob}"
    body = await graphql.execute(RECEIPT, sessionId=sid)
    assert body["data"] is None
    assert "not found" in body["errors"][0]["message"]
    bob_sessions = await graphql.data(SESSIONS)
    assert bob_sessions["me"]["sessions"]["edges"] == []

    del graphql.http.headers["Authorization"]
    for query, variables in ((RECEIPT, {"sessionId": sid}), (SESSIONS, {})):
        body = await graphql.execute(query, **variables)
        assert body["data"] is None
        assert "log in first" in body["errors"][0]["message"]
