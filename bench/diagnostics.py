"""Benchmark the operator's diagnosis reads: `stationDiagnostics` of one station (latency and
SQL statements, a small and a large station, a long message log) and the live state of a whole
network as stationUpdated sends it first (read_live of every station).

    python bench/diagnostics.py [--quick] [--db sqlite,postgresql]

In process (httpx.ASGITransport, no network), one client, requests one after another.
"""

import argparse
import asyncio
import base64
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: bench/ must not shadow installed packages
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import httpx
import sqlalchemy as sa
from sqlalchemy import event

from app.db.models import (
    Alert,
    ChargingSession,
    ChargingStation,
    Evse,
    Location,
    OcppMessageLog,
    Operator,
    OperatorUser,
)
from app.domain.access import OperatorRole
from app.domain.alerts import AlertSeverity, AlertSource
from app.domain.enums import EvseStatus, MessageDirection, MessageKind, SessionStatus
from app.main import create_app
from app.services import operators
from app.services.station_live import read_live
from app.settings import Settings
from bench.harness import database, emit, latency_ms, machine, note

BENCH = "diagnostics"
QUERY = """query($id: ID!) { stationDiagnostics(stationId: $id) {
  live { online connectivitySince lastMessageAt powerW
         evses { evse { uid } status statusSince powerW activeSession { id energyWh powerW } } }
  firmware { vendor model version latestUpdate { status } }
  configuration { key value }
  openAlerts { code severity evseUid }
  recentSessions(first: 10) { id status energyWh evse { uid } }
  recentMessages(first: 20) { messages { at action payload } }
} }"""


async def seed(app: Any, *, stations: int, big_evses: int, messages: int) -> dict[str, str]:
    """`stations` stations of 2 EVSEs, plus BIG with `big_evses`, each EVSE charging with an
    open alert, 50 finished sessions on BIG and `messages` logged frames on BIG."""
    now = datetime.now(UTC)
    factory = app.state.runtime.session_factory
    async with factory() as db:
        org = Operator(name="Bench")
        db.add(org)
        await db.flush()
        site = Location(name="Bench", latitude=52.37, longitude=4.89, operator_id=org.id)
        db.add(site)
        await db.flush()
        shapes = [(f"BENCH-{i:05d}", 2) for i in range(stations)] + [("BIG", big_evses)]
        for identity, _ in shapes:
            db.add(ChargingStation(id=identity, location_id=site.id))
        await db.flush()
        for identity, count in shapes:
            for number in range(1, count + 1):
                evse = Evse(station_id=identity, ocpp_evse_id=number, uid=f"{identity}*{number}",
                            status=EvseStatus.CHARGING)  # fmt: skip
                db.add(evse)
                await db.flush()
                assert evse.id is not None
                db.add(ChargingSession(station_id=identity, evse_id=evse.id,
                                       transaction_id=f"{identity}-{number}", started_at=now,
                                       energy_wh=1000, power_w=7400))  # fmt: skip
                db.add(Alert(station_id=identity, evse_id=evse.id, code="GroundFailure",
                             severity=AlertSeverity.MAJOR, source=AlertSource.STATUS,
                             open_key=f"{identity}|{number}|GroundFailure", first_seen_at=now,
                             last_seen_at=now))  # fmt: skip
        big_evse = evse.id
        for n in range(50):
            db.add(ChargingSession(station_id="BIG", evse_id=big_evse, transaction_id=f"old-{n}",
                                   started_at=now - timedelta(days=n + 1),
                                   status=SessionStatus.COMPLETED))  # fmt: skip
        user = OperatorUser(operator_id=org.id, email="bench@example.com", password_hash="x",
                            role=OperatorRole.VIEWER)  # fmt: skip
        db.add(user)
        await db.commit()
        await db.refresh(user)
    rows = [
        {"station_id": "BIG" if i % 2 else "BENCH-00000", "direction": MessageDirection.INBOUND,
         "kind": MessageKind.CALL, "unique_id": str(i), "action": "MeterValues", "payload": "[]",
         "created_at": now - timedelta(seconds=messages - i)}
        for i in range(messages)
    ]  # fmt: skip
    async with factory() as db:
        for start in range(0, len(rows), 5000):
            await db.exec(sa.insert(OcppMessageLog), params=rows[start : start + 5000])  # type: ignore[call-overload]
        await db.commit()
    token, _ = app.state.runtime.tokens.issue(operators.principal_of(user))
    return {"Authorization": f"Bearer {token}"}


async def measure(
    http: httpx.AsyncClient, engine: Any, headers: dict[str, str], identity: str, rounds: int
) -> tuple[list[float], int]:
    """Latencies of `rounds` queries of one station, and the SQL statements one of them runs."""
    gid = base64.b64encode(f"ChargingStation:{identity}".encode()).decode()
    body = {"query": QUERY, "variables": {"id": gid}}
    answer = (await http.post("/graphql", json=body, headers=headers)).json()
    assert "errors" not in answer, answer
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    await http.post("/graphql", json=body, headers=headers)
    event.remove(engine.sync_engine, "before_cursor_execute", count)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        await http.post("/graphql", json=body, headers=headers)
        times.append(time.perf_counter() - started)
    return times, len(statements)


async def run(kind: str, quick: bool) -> None:
    stations, big, messages, rounds = (200, 16, 20_000, 50) if quick else (2000, 32, 200_000, 200)
    async with database(kind) as url:
        # No rate limits (one client asks fast) and no monitor passes (their statements would
        # be counted with the query's).
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=url,
            rate_limit_ip_per_s=0.0,
            rate_limit_principal_per_s=0.0,
            health_check_interval_s=3600,
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            note(f"{kind}: seeding {stations} stations, {messages} log frames")
            headers = await seed(app, stations=stations, big_evses=big, messages=messages)
            engine = app.state.runtime.engine
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                for identity, evses in (("BENCH-00001", 2), ("BIG", big)):
                    times, statements = await measure(http, engine, headers, identity, rounds)
                    emit(BENCH, f"stationDiagnostics_{evses}_evses", latency_ms(times)["p50"],
                         "ms p50", db=kind, **latency_ms(times), statements=statements,
                         rounds=rounds, log_frames=messages)  # fmt: skip
            ids = [f"BENCH-{i:05d}" for i in range(stations)]
            started = time.perf_counter()
            async with app.state.runtime.session_factory() as db:
                live = await read_live(db, ids)
            elapsed = time.perf_counter() - started
            assert len(live) == stations
            emit(BENCH, "map_first_snapshot", round(elapsed * 1000, 1), "ms", db=kind,
                 stations=stations, evses=2 * stations)  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--db", default="sqlite,postgresql")
    args = parser.parse_args()
    emit(BENCH, "machine", None, "", **machine())
    for kind in args.db.split(","):
        await run(kind, args.quick)


if __name__ == "__main__":
    asyncio.run(main())
