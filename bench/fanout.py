"""Benchmark live status fan-out: S subscribers to `evseStatusChanged` over WebSockets
(graphql-transport-ws, a light `websockets` client), status changes sent by stations over OCPP.

    python bench/fanout.py [--quick] [--subscribers 1000] [--db sqlite]

Every subscriber watches every station's location, so each change is one message to each of
them. Latency runs from just before the station's StatusNotification frame leaves to the
moment each subscriber has read its message (one clock: both ends live in this process).

Garbage collections of both processes during the changes are reported, and set beside the
slowest changes (the server's through the `PROBE` sitecustomize). This process's own collector
is off while the changes run (`--generator-gc` keeps it on): the thousand clients share its
heap, and one of its full collections (up to 200 ms) would be counted as the server's latency.
"""

import argparse
import asyncio
import contextlib
import gc
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: bench/ must not shadow the `ocpp` package
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from websockets.asyncio.client import ClientConnection, connect

from bench.harness import (
    STATION_PASSWORD,
    TOKEN_UID,
    Server,
    app_server,
    basic_auth,
    database,
    emit,
    free_port,
    latency_ms,
    machine,
    note,
    proc_sample,
    profile_server,
    running,
    seed_network,
)
from bench.ocpp_station import Station, Tally, clock_origin

BENCH = "fanout"
SUBSCRIPTION = """
subscription Watch($ids: [ID!]!) {
  evseStatusChanged(locationIds: $ids) { evseUid status changedAt }
}
"""
Key = tuple[str, datetime]
Pause = tuple[float, float, int, int, int]
"""A garbage collection: perf_counter at its start, seconds, generation, objects collected,
objects left in the oldest generation (full collections of the server only, else 0)."""
PROBE = """# sitecustomize for the benchmarked server, written by bench/fanout.py
import atexit
import gc
import json
import os
import signal
import time
from collections import Counter
from types import FrameType

_PATH = os.environ.get("BENCH_GC_LOG")


def _install(path: str) -> None:
    pauses: list[tuple[float, float, int, int, int]] = []
    began = [0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        now = time.perf_counter()  # CLOCK_MONOTONIC: comparable with the bench's clock
        if phase == "start":
            began[0] = now
        else:
            # Counted after the pause is timed; only after full collections (rare).
            left = len(gc.get_objects(2)) if info["generation"] == 2 else 0
            pauses.append((began[0], now - began[0], info["generation"], info["collected"], left))

    def write() -> None:
        with open(path, "w") as out:
            json.dump(pauses, out)

    def types(signum: int, frame: FrameType | None) -> None:
        counts = Counter(type(o).__qualname__ for o in gc.get_objects())
        with open(f"{path}.types", "w") as out:
            json.dump({"tracked": sum(counts.values()), "top": counts.most_common(40)}, out)

    gc.callbacks.append(callback)
    atexit.register(write)
    signal.signal(signal.SIGUSR2, types)


def _freeze_survivors(phase: str, info: dict[str, int]) -> None:
    # What a full collection left is long-lived: out of later collections' walk.
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()


if _PATH:
    _install(_PATH)
if os.environ.get("BENCH_GC_FREEZE_SURVIVORS"):
    gc.callbacks.append(_freeze_survivors)
"""
"""The server's side of the GC figures: with BENCH_GC_LOG set, each collection (perf_counter
at its start, seconds, generation, objects collected, objects left in the oldest generation
after a full one) goes there as JSON at exit; on SIGUSR2, the tracked objects by type go to
BENCH_GC_LOG.types; with BENCH_GC_FREEZE_SURVIVORS, what each full collection leaves is frozen."""
PING_INTERVAL_S = 20.0  # uvicorn's default keepalive ping (ws_ping_interval)


class GcLog:
    """This process's collections while it lives in `gc.callbacks`."""

    def __init__(self) -> None:
        self.pauses: list[Pause] = []
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._began = now
        else:
            generation, collected = info["generation"], info["collected"]
            self.pauses.append((self._began, now - self._began, generation, collected, 0))


class Subscriber:
    def __init__(self, url: str, location_ids: list[str], sent: dict[Key, float]) -> None:
        self._url = url
        self._ids = location_ids
        self._sent = sent
        self.latencies_s: dict[Key, float] = {}
        self.seen: set[Key] = set()
        self.opened_at = 0.0
        self._ws: ClientConnection | None = None

    async def open(self) -> None:
        self._ws = await connect(
            self._url,
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            open_timeout=120,
            ping_interval=None,
            compression=None,
        )
        await self._ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        ack = json.loads(await self._ws.recv())
        self.opened_at = time.perf_counter()  # the server's keepalive pings count from here
        if ack.get("type") != "connection_ack":
            raise RuntimeError(f"no connection_ack: {ack}")
        payload = {"query": SUBSCRIPTION, "variables": {"ids": self._ids}}
        await self._ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))

    async def listen(self) -> None:
        assert self._ws is not None
        async for text in self._ws:
            now = time.perf_counter()
            message = json.loads(text)
            if message.get("type") == "ping":
                await self._ws.send(json.dumps({"type": "pong"}))
                continue
            if message.get("type") != "next":
                raise RuntimeError(f"subscription failed: {message}")
            event = message["payload"]["data"]["evseStatusChanged"]
            key = (event["evseUid"], datetime.fromisoformat(event["changedAt"]))
            self.seen.add(key)
            if key in self._sent:
                self.latencies_s[key] = now - self._sent[key]

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()


async def change_status(station: Station, uid: str, status: str, sent: dict[Key, float]) -> Key:
    """One StatusNotification on a fresh station clock tick; records when it left."""
    station._clock += timedelta(seconds=1)  # the bench drives the station clock
    key = (uid, station._clock)
    sent[key] = time.perf_counter()
    await station.status(1, status)
    return key


async def wait_seen(subscribers: list[Subscriber], key: Key, timeout_s: float) -> None:
    async with asyncio.timeout(timeout_s):
        for subscriber in subscribers:
            while key not in subscriber.seen:  # noqa: ASYNC110  (bounded poll, 1,000 sets)
                await asyncio.sleep(0.05)


async def run(kind: str, args: argparse.Namespace) -> None:
    async with database(kind) as url:
        network = await seed_network(
            url,
            locations=args.stations,
            stations_per_location=1,
            evses_per_station=1,
            password=STATION_PASSWORD,
        )
        from app.graphql.types import node

        location_ids = [str(node.global_id(node.LOCATION, i)) for i in network.location_ids]
        port = free_port()
        sent: dict[Key, float] = {}
        tally = Tally()
        # Every subscriber connects from 127.0.0.1: past the per-address burst (300) the
        # `subscribe` messages would be refused RATE_LIMITED. 0 = no limit.
        unlimited = {"rate_limit_ip_per_s": "0", "rate_limit_principal_per_s": "0"}
        # The server's collections, through the PROBE on its path, written at its exit.
        probe_dir = Path(tempfile.mkdtemp(prefix="fanout-gc-"))
        (probe_dir / "sitecustomize.py").write_text(PROBE)
        server_gc = probe_dir / "pauses.json"
        path = os.pathsep.join(p for p in (str(probe_dir), os.environ.get("PYTHONPATH")) if p)
        probe = {"pythonpath": path, "bench_gc_log": str(server_gc)}
        if args.server_gc == "freeze-survivors":
            probe["bench_gc_freeze_survivors"] = "1"
        own_gc = GcLog()
        async with running(app_server(url, port, **unlimited, **probe)) as server:
            stations = [
                Station(
                    f"ws://127.0.0.1:{port}/ocpp",
                    station_id,
                    auth=basic_auth(station_id),
                    id_tag=TOKEN_UID,
                    tally=tally,
                    meters_per_session=1,
                    clock_start=clock_origin(),
                )
                for station_id in network.station_ids
            ]
            async with asyncio.timeout(120):
                for station in stations:
                    await station.connect()
                    await station.boot()
            note(f"{kind}: opening {args.subscribers} subscriptions")
            url_ws = f"ws://127.0.0.1:{port}/graphql"
            subscribers = [Subscriber(url_ws, location_ids, sent) for _ in range(args.subscribers)]
            async with asyncio.timeout(180):
                for start in range(0, len(subscribers), 100):
                    await asyncio.gather(*(s.open() for s in subscribers[start : start + 100]))
            rss_before = server.sample().rss_kb
            listeners = [asyncio.create_task(s.listen()) for s in subscribers]
            try:
                # Warm-up: a subscription is live once the server has read its `subscribe`,
                # which under load takes a while: toggle one EVSE until a change reaches all.
                first = stations[0]
                uid = network.evse_uids[first.station_id][0]
                async with asyncio.timeout(180):
                    for attempt in range(60):
                        status = ("Unavailable", "Available")[attempt % 2]
                        warm = await change_status(first, uid, status, sent)
                        with contextlib.suppress(TimeoutError):
                            await wait_seen(subscribers, warm, 5)
                            break
                if status != "Available":  # leave it as the others: each change is real
                    await change_status(first, uid, "Available", sent)
                for s in subscribers:
                    s.latencies_s.clear()
                if args.heap:
                    await server_heap(server, server_gc, kind)
                note(f"{kind}: {args.changes} status changes at {args.rate}/s")
                seconds = args.changes / args.rate
                spy = profile_server(server, args.profile and f"{args.profile}.{kind}", seconds)
                cpu = server.sample().cpu_s
                own = proc_sample(os.getpid()).cpu_s
                if not args.generator_gc:
                    # The 1,000 clients live in this one process; its collections (up to
                    # 200 ms with them all in the heap) would stop every reader at once and
                    # count as the server's latency. Their sockets are set up: move them out
                    # of the collector, and collect nothing until the changes are delivered.
                    gc.collect()
                    gc.freeze()
                    gc.disable()
                gc.callbacks.append(own_gc)
                window = time.perf_counter()
                began = time.monotonic()
                keys: list[Key] = []
                statuses = ("Charging", "Available")  # each a change: booted Available
                for i in range(args.changes):
                    station = stations[i % len(stations)]
                    uid = network.evse_uids[station.station_id][0]
                    status = statuses[(i // len(stations)) % 2]
                    keys.append(await change_status(station, uid, status, sent))
                    delay = began + (i + 1) / args.rate - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)  # the schedule of changes
                await wait_seen(subscribers, keys[-1], 60)
                elapsed = time.monotonic() - began
                window_end = time.perf_counter()
                gc.callbacks.remove(own_gc)
                cpu = server.sample().cpu_s - cpu
                # The subscribers share this process: near 1.0, they, not the server, set
                # the latency.
                generator_util = (proc_sample(os.getpid()).cpu_s - own) / elapsed
                if spy is not None:
                    await asyncio.to_thread(spy.wait, 60)
            finally:
                gc.enable()
                gc.unfreeze()
                for task in listeners:
                    task.cancel()
                await asyncio.gather(*listeners, return_exceptions=True)
                await asyncio.gather(*(s.close() for s in subscribers), return_exceptions=True)
                await asyncio.gather(*(s.close() for s in stations), return_exceptions=True)
    pauses = {"server": _read_pauses(server_gc), "bench": own_gc.pauses}
    shutil.rmtree(probe_dir, ignore_errors=True)
    pings = sorted(s.opened_at for s in subscribers)
    latencies = [x for s in subscribers for x in s.latencies_s.values()]
    wanted = set(keys)
    missing = sum(len(wanted - s.seen) for s in subscribers)
    emit(
        BENCH,
        "fanout_latency",
        latency_ms(latencies)["p99"],
        "ms p99",
        latency_ms=latency_ms(latencies),
        delivered_per_s=round(len(latencies) / elapsed, 1),
        deliveries=len(latencies),
        missing=missing,
        changes=len(keys),
        subscribers=len(subscribers),
        server_cpu_ms_per_change=round(cpu / len(keys) * 1000, 2),
        server_cpu_util=round(cpu / elapsed, 2),
        generator_cpu_util=round(generator_util, 2),
        server_rss_mib=round(rss_before / 1024, 1),
        per_change=per_change(keys, subscribers, sent, pauses, pings),
        gc={name: gc_summary(found, window, window_end) for name, found in pauses.items()},
        server_gc=args.server_gc,
        generator_gc=args.generator_gc,
        db=kind,
    )


async def server_heap(server: Server, log: Path, kind: str) -> None:
    """Emit what the server's collector walks in a full collection, by type (the probe
    answers SIGUSR2); before the changes, so the run's figures are unaffected."""
    answer = Path(f"{log}.types")
    os.kill(server.pid, signal.SIGUSR2)
    async with asyncio.timeout(30):
        while not answer.exists():  # noqa: ASYNC110, ASYNC240  (written once, small)
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)  # let it finish writing
    heap = json.loads(answer.read_text())  # noqa: ASYNC240
    answer.unlink()  # noqa: ASYNC240
    emit(BENCH, "server_heap", heap["tracked"], "objects", top=heap["top"], db=kind)


def _read_pauses(path: Path) -> list[Pause]:
    """The server's collections from the probe's file."""
    try:
        return [tuple(p) for p in json.loads(path.read_text() or "[]")]
    except (OSError, ValueError):
        return []


def gc_summary(pauses: list[Pause], start: float, end: float) -> dict[str, Any]:
    """Collections during the changes, by generation: [count, total ms, longest ms]; and the
    last full collection of the whole run (the server's only) with the objects it left."""
    out: dict[str, Any] = {}
    for generation in (0, 1, 2):
        ms = [p[1] * 1000 for p in pauses if p[2] == generation and start <= p[0] <= end]
        out[f"gen{generation}"] = [len(ms), round(sum(ms), 1), round(max(ms, default=0.0), 1)]
    full = [p for p in pauses if p[4]]  # the server's full collections, setup included
    if full:
        out["last_full"] = {"ms": round(full[-1][1] * 1000, 1), "objects_left": full[-1][4]}
    return out


def _overlap_ms(pauses: list[Pause], start: float, end: float) -> float:
    return round(sum(max(0.0, min(b + d, end) - max(b, start)) for b, d, *_ in pauses) * 1000, 1)


def per_change(
    keys: list[Key],
    subscribers: list[Subscriber],
    sent: dict[Key, float],
    pauses: dict[str, list[Pause]],
    opened: list[float],
) -> dict[str, Any]:
    """How each change's deliveries spread: its first and last subscriber's latency.

    A p99 far above the p50 is either every change's last few subscribers (the per-change
    cost) or a few changes late for everybody (a stall): `slowest` tells which, with the
    collections (either process) and the server's keepalive pings (one per subscriber each
    PING_INTERVAL_S after its connection_ack) that fell within the change's deliveries."""
    first: list[float] = []
    last: list[float] = []
    for key in keys:
        got = [s.latencies_s[key] for s in subscribers if key in s.latencies_s]
        if got:
            first.append(min(got))
            last.append(max(got))
    order = sorted(range(len(last)), key=last.__getitem__, reverse=True)
    return {
        "first_ms_p50": latency_ms(first)["p50"],
        "last_ms_p50": latency_ms(last)["p50"],
        "slowest": [
            {
                "change": i,
                "first_ms": round(first[i] * 1000, 1),
                "last_ms": round(last[i] * 1000, 1),
                **{
                    f"gc_{name}_ms": _overlap_ms(found, sent[keys[i]], sent[keys[i]] + last[i])
                    for name, found in pauses.items()
                },
                "pings": _pings(opened, sent[keys[i]], sent[keys[i]] + last[i]),
            }
            for i in order[:5]
        ],
    }


def _pings(opened: list[float], start: float, end: float) -> int:
    count = 0
    for at in opened:
        due = at + PING_INTERVAL_S * max(1, round((start - at) / PING_INTERVAL_S))
        count += start - 0.5 <= due <= end  # pings just before the change still weigh on it
    return count


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--subscribers", type=int, default=None)
    parser.add_argument("--stations", type=int, default=10)
    parser.add_argument("--rate", type=float, default=None, help="status changes per second")
    parser.add_argument("--changes", type=int, default=None)
    parser.add_argument("--db", default=None)
    parser.add_argument("--profile", help="py-spy the server while it fans out: PREFIX.<db>")
    parser.add_argument(
        "--heap", action="store_true", help="print the server's tracked objects by type"
    )
    parser.add_argument(
        "--server-gc",
        choices=("default", "freeze-survivors"),
        default="default",
        help="freeze-survivors: the server freezes what each full collection leaves "
        "(PROBE), to measure that policy before the app adopts it",
    )
    parser.add_argument(
        "--generator-gc",
        action="store_true",
        help="leave this process's garbage collector on while the changes run (its pauses "
        "then count as latency; before 2026-12-08 the bench always ran so)",
    )
    args = parser.parse_args()
    args.subscribers = args.subscribers or (250 if args.quick else 1000)
    args.rate = args.rate or (5.0 if args.quick else 10.0)
    args.changes = args.changes or (30 if args.quick else 200)
    args.db = args.db or ("sqlite" if args.quick else "sqlite,postgresql")
    return args


async def main(args: argparse.Namespace) -> Any:
    for kind in args.db.split(","):
        await run(kind, args)


if __name__ == "__main__":
    emit(BENCH, "machine", None, "", **machine())
    asyncio.run(main(parse()))
