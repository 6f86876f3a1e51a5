"""CPU and SQL statements per OCPP message, by action, in one process without WebSockets.

    python bench/ocpp_cpu.py [--db sqlite,postgresql] [--stations 50] [--sessions 2]
                             [--meters 40] [--cprofile PREFIX]

The same script as `bench/ocpp.py`'s stations (boot, status Preparing, StartTransaction,
status Charging, MeterValues with a register and a power value, StopTransaction, status
Available), sent through the 1.6 handlers' `route_message` with a captured send and group
commit, all stations at once, one step at a time, after one short unmeasured session. Each
step's process CPU (time.process_time: this process only, the database server's CPU is not in
it) and SQL statements are summed by action, so what one StartTransaction or MeterValues costs
is read apart from the others, and the bench's mix (45 messages a session) is weighed from
them. CPU time, not wall time: it moves much less with the machine's load than
`bench/ocpp.py`'s saturation figure (a shared VM still stretches it: compare runs back to back).
"""

import argparse
import asyncio
import itertools
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: bench/ must not shadow the `ocpp` package
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import cProfile  # after the path fix: bench/profile.py would shadow the standard `profile`

from sqlalchemy import event

from bench.harness import TOKEN_UID, database, emit, machine, note, seed_network
from bench.ocpp_station import Call, SessionScript, clock_origin

BENCH = "ocpp_cpu"


class _Captured:
    def __init__(self) -> None:
        self.sent: list[Any] = []

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))


class _Station(SessionScript):
    """One station's script, sent to its handlers with a captured send."""

    def __init__(self, handlers: Any, captured: _Captured, clock: datetime) -> None:
        super().__init__(id_tag=TOKEN_UID, clock_start=clock)
        self.handlers = handlers
        self.captured = captured
        self.ids = itertools.count(1)

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        unique_id = str(next(self.ids))
        await self.handlers.route_message(json.dumps([2, unique_id, action, payload]))
        answer = self.captured.sent[-1]
        if answer[0] != 3 or answer[1] != unique_id:
            raise RuntimeError(f"{action}: {answer}")
        result: dict[str, Any] = answer[2]
        return result


def _status(connector: int, status: str) -> Callable[[_Station], Call]:
    return lambda s: s.status_notification(connector, status)


async def run(kind: str, args: argparse.Namespace) -> None:
    from app.db.engine import create_engine, create_session_factory
    from app.events import InProcessEventBus
    from app.ocpp.base import HandlerContext
    from app.ocpp.v16.handlers import StationHandlers16
    from app.services.group_commit import GroupCommit

    async with database(kind) as url:
        network = await seed_network(
            url,
            locations=max(1, args.stations // 10),
            stations_per_location=10,
            evses_per_station=1,
            password=None,
        )
        engine = create_engine(url)
        statements = Counter[str]()
        current = ["-"]

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def _count(*_: Any) -> None:
            statements[current[0]] += 1

        factory = create_session_factory(engine)
        group = GroupCommit(session_factory=factory)
        await group.start()
        context = HandlerContext(
            session_factory=factory, bus=InProcessEventBus(), heartbeat_interval_s=60, group=group
        )
        origin = clock_origin()
        stations = []
        for station_id in network.station_ids[: args.stations]:
            captured = _Captured()
            handlers = StationHandlers16(station_id, captured, context, 5.0)
            stations.append(_Station(handlers, captured, origin))
        cpu: Counter[str] = Counter()
        count: Counter[str] = Counter()
        profiler = cProfile.Profile(time.process_time) if args.cprofile else None

        async def step(
            build: Callable[[_Station], Call], *, measured: bool = True
        ) -> list[dict[str, Any]]:
            frames = [build(s) for s in stations]
            action = frames[0][0]
            current[0] = action if measured else "-"
            if profiler is not None and measured:
                profiler.enable()
            began = time.process_time()
            answers = await asyncio.gather(
                *(
                    s.call(name, payload)
                    for s, (name, payload) in zip(stations, frames, strict=True)
                )
            )
            spent = time.process_time() - began
            if profiler is not None and measured:
                profiler.disable()
            if measured:
                cpu[action] += spent
                count[action] += len(stations)
            return answers

        try:
            await step(_Station.boot_notification, measured=False)
            await step(_status(0, "Available"), measured=False)
            await step(_status(1, "Available"), measured=False)
            # One short session unmeasured first: statement caches and pools warm up.
            for session in range(args.sessions + 1):
                measured = session > 0
                await step(_status(1, "Preparing"), measured=measured)
                answers = await step(_Station.start_transaction, measured=measured)
                for s, answer in zip(stations, answers, strict=True):
                    s.started(answer)
                await step(_status(1, "Charging"), measured=measured)
                for _ in range(args.meters if measured else 3):
                    await step(_Station.meter_values, measured=measured)
                await step(_Station.stop_transaction, measured=measured)
                await step(_status(1, "Available"), measured=measured)
        finally:
            await group.stop()
            await engine.dispose()
    if profiler is not None:
        profiler.dump_stats(f"{args.cprofile}.{kind}")
    per_session = {"StatusNotification": 3, "StartTransaction": 1, "MeterValues": args.meters}
    per_session["StopTransaction"] = 1
    mix_cpu = sum(cpu[a] / count[a] * n for a, n in per_session.items())
    mix_stmts = sum(statements[a] / count[a] * n for a, n in per_session.items())
    messages = sum(per_session.values())
    by_action = {
        a: {
            "cpu_ms": round(cpu[a] / count[a] * 1000, 3),
            "statements": round(statements[a] / count[a], 2),
            "messages": count[a],
        }
        for a in per_session
    }
    emit(
        BENCH,
        "cpu_per_message",
        round(mix_cpu / messages * 1000, 3),
        "ms (mix of bench/ocpp.py)",
        statements_per_message=round(mix_stmts / messages, 2),
        by_action=by_action,
        db=kind,
        stations=len(stations),
        sessions=args.sessions,
    )


async def main(args: argparse.Namespace) -> None:
    for kind in args.db.split(","):
        note(f"{kind}: {args.stations} stations x {args.sessions} sessions")
        await run(kind, args)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--stations", type=int, default=50)
    parser.add_argument("--sessions", type=int, default=2)
    parser.add_argument("--meters", type=int, default=40)
    parser.add_argument("--cprofile", help="cProfile the measured steps: PREFIX.<db>")
    arguments = parser.parse_args()
    emit(BENCH, "machine", None, "", **machine())
    asyncio.run(main(arguments))
