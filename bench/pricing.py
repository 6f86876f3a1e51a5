"""Benchmark the live cost on the OCPP hot path: MeterValues into a 4-hour session.

    python bench/pricing.py [--quick] [--db sqlite,postgresql]

Drives the real service (`transactions.record_meter_values`, one transaction per message, as
the OCPP handler does) every 15 s of session time for 4 hours (960 messages) on the demo AC
tariff (energy + idle fee after an hour: clock and duration restrictions). Baseline in the same
run: the same messages into a session without a tariff (stored, not priced) -> ratio_to_unpriced.
Reports ms per message at the session's end (the last 60 messages), where re-pricing the whole
timeline would cost most.
"""

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: bench/ must not shadow the `ocpp` package
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from bench.harness import TOKEN_UID, database, emit, machine, seed_network

BENCH = "pricing"


async def drive(url: str, station_id: str, messages: int) -> list[float]:
    """Start a session on the station's EVSE 1 and send `messages` MeterValues; ms of each."""
    from app.db.engine import create_engine, create_session_factory
    from app.domain.metering import MeterReading, SampledValue
    from app.events import InProcessEventBus
    from app.services import transactions

    engine = create_engine(url)
    factory = create_session_factory(engine)
    bus = InProcessEventBus()
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    timings: list[float] = []
    try:
        started = await transactions.start_session(
            session_factory=factory,
            bus=bus,
            station_id=station_id,
            ocpp_evse_id=1,
            id_token=TOKEN_UID,
            meter_start_wh=0,
            started_at=start,
        )
        for n in range(1, messages + 1):
            # 11 kW for 3 hours, then parked (idle fee): power drops to 0.
            power = 11_000 if n <= messages * 3 // 4 else 0
            energy = min(n, messages * 3 // 4) * 11_000 * 15 // 3600
            reading = MeterReading(
                start + timedelta(seconds=15 * n),
                (
                    SampledValue("Energy.Active.Import.Register", float(energy), "Wh"),
                    SampledValue("Power.Active.Import", float(power), "W"),
                ),
            )
            began = time.perf_counter()
            await transactions.record_meter_values(
                session_factory=factory,
                bus=bus,
                station_id=station_id,
                ocpp_evse_id=1,
                transaction_id=started.transaction_id,
                readings=(reading,),
            )
            timings.append((time.perf_counter() - began) * 1000)
        return timings
    finally:
        await engine.dispose()


async def unprice(url: str, station_id: str) -> None:
    """Take the tariff off the station's connectors: its sessions are stored, not priced."""
    import sqlalchemy as sa

    from app.db.engine import create_engine

    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "UPDATE connector SET tariff_id = NULL WHERE evse_id IN "
                    "(SELECT id FROM evse WHERE station_id = :s)"
                ),
                {"s": station_id},
            )
    finally:
        await engine.dispose()


async def run(kind: str, messages: int) -> None:
    async with database(kind) as url:
        network = await seed_network(
            url, locations=2, stations_per_location=1, evses_per_station=1, password=None
        )
        priced_station, plain_station = network.station_ids
        await unprice(url, plain_station)
        plain = await drive(url, plain_station, messages)
        priced = await drive(url, priced_station, messages)
    tail = max(1, messages // 16)
    end_priced = statistics.median(priced[-tail:])
    end_plain = statistics.median(plain[-tail:])
    emit(
        BENCH,
        "meter_value_ms_at_session_end",
        round(end_priced, 2),
        "ms",
        baseline=round(end_plain, 2),
        ratio_to_unpriced=round(end_priced / end_plain, 2),
        first_messages_ms=round(statistics.median(priced[:tail]), 2),
        session_hours=round(messages * 15 / 3600, 2),
        messages=messages,
        db=kind,
    )


async def main(args: argparse.Namespace) -> None:
    for kind in args.db.split(","):
        await run(kind, args.messages)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="SQLite only, a 2-hour session")
    parser.add_argument("--messages", type=int, default=None, help="every 15 s: 960 = 4 h")
    parser.add_argument("--db", default=None)
    args = parser.parse_args()
    args.db = args.db or ("sqlite" if args.quick else "sqlite,postgresql")
    args.messages = args.messages or (480 if args.quick else 960)
    emit(BENCH, "machine", None, "", **machine())
    asyncio.run(main(args))
