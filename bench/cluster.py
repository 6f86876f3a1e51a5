"""Benchmark two instances beside one on the same PostgreSQL and Redis, and leader takeover.

    python bench/cluster.py [--quick] [--stations N] [--seconds S] [--takeovers K]

One database, one Redis key prefix. Instance A starts alone: OCPP saturation (the bench/ocpp.py
stations), station search (closed loop) and status fan-out run against it. Then B starts beside
it and the same loads run again: stations split round-robin over A and B, search clients too,
fan-out subscribers on B while the chargers sit on A (every event crosses Redis). Each figure
is printed for `instances` 1 and 2, the second with `ratio_two_to_one`. Server CPU is summed
over the instances (Redis's own CPU beside it). Last, leader takeover: SIGKILL the leader, time
until another instance's /readyz says `leader: true`, start a replacement; p50 and max. Then
once with the leader frozen (SIGSTOP: its connection stays open), which only the lock's lease
ends.
"""

import argparse
import asyncio
import contextlib
import os
import random
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: bench/ must not shadow the `ocpp` package
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import httpx
from redis.asyncio import Redis

from bench.fanout import Key, Subscriber, change_status, wait_seen
from bench.graphql import search_body
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
    percentile,
    proc_sample,
    seed_network,
)
from bench.ocpp import connect_and_boot, make_stations
from bench.ocpp_station import Station, Tally, clock_origin

BENCH = "cluster"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


class Cluster:
    """Instances of one cluster (same database, Redis and key prefix), each its own process."""

    def __init__(self, url: str, prefix: str, poll_s: float) -> None:
        self.url, self.prefix, self.poll_s = url, prefix, poll_s
        self.servers: list[Server] = []
        self._names = iter(f"bench-{i}" for i in range(1000))

    async def add(self) -> Server:
        server = app_server(
            self.url, free_port(), redis_url=REDIS_URL, redis_key_prefix=self.prefix,
            instance_id=next(self._names), leader_poll_interval_s=str(self.poll_s),
            # Every client is 127.0.0.1: per-address limits would refuse most of the load.
            rate_limit_ip_per_s="0", rate_limit_principal_per_s="0",
        )  # fmt: skip
        await server.start("/readyz", timeout_s=180)
        self.servers.append(server)
        return server

    def cpu_s(self) -> float:
        return sum(s.sample().cpu_s for s in self.servers)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


async def leader_flags(servers: list[Server]) -> list[bool]:
    async with httpx.AsyncClient(timeout=10) as http:
        answers = [await http.get(f"http://127.0.0.1:{s.port}/readyz") for s in servers]
    return [bool(a.json()["leader"]) for a in answers]


async def ocpp_load(
    cluster: Cluster, ids: list[str], seconds: float, redis_pid: int | None
) -> dict[str, Any]:
    """Saturation: every station sends its script back to back; stations round-robin."""
    tally = Tally()
    n = len(cluster.servers)
    stations: list[Station] = []
    for index, server in enumerate(cluster.servers):
        url = f"ws://127.0.0.1:{server.port}/ocpp"
        stations += make_stations(url, ids[index::n], tally, True, 40)
    await connect_and_boot(stations, len(ids) * 0.5 + 60)
    tally.reset()
    cpu, redis_cpu = cluster.cpu_s(), _cpu(redis_pid)
    began = time.monotonic()
    async with asyncio.timeout(seconds + 60):
        await asyncio.gather(*(s.run(began + seconds) for s in stations))
    elapsed = time.monotonic() - began
    cpu, redis_cpu = cluster.cpu_s() - cpu, _cpu(redis_pid) - redis_cpu
    await asyncio.gather(*(s.close() for s in stations))
    calls = max(tally.calls, 1)
    return {
        "msgs_per_s": round(tally.calls / elapsed, 1),
        "cpu_s_per_1000_msgs": round(cpu / calls * 1000, 3),
        "redis_cpu_s_per_1000_msgs": round(redis_cpu / calls * 1000, 3),
        "latency_ms": latency_ms(tally.latencies_s),
        "messages": tally.calls,
        "errors": tally.errors,
        "stations": len(ids),
    }


def _cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    with contextlib.suppress(OSError):
        return proc_sample(pid).cpu_s
    return 0.0


async def search_load(cluster: Cluster, clients: int, seconds: float) -> dict[str, Any]:
    """Closed loop: `clients` loops spread over the instances, each its own connection pool."""
    latencies: list[float] = []
    errors = 0
    rng = random.Random(50)
    deadline = time.monotonic() + seconds

    async def worker(http: httpx.AsyncClient) -> None:
        nonlocal errors
        while time.monotonic() < deadline:
            began = time.perf_counter()
            answer = await http.post("/graphql", json=search_body(rng, 15_000.0))
            latencies.append(time.perf_counter() - began)
            if answer.status_code != 200 or "errors" in answer.json():
                errors += 1

    https = [
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{s.port}", timeout=60)
        for s in cluster.servers
    ]
    cpu = cluster.cpu_s()
    began = time.monotonic()
    try:
        async with asyncio.timeout(seconds + 60):
            await asyncio.gather(*(worker(https[i % len(https)]) for i in range(clients)))
    finally:
        await asyncio.gather(*(h.aclose() for h in https))
    elapsed = time.monotonic() - began
    return {
        "req_per_s": round(len(latencies) / elapsed, 1),
        "server_cpu_ms_per_request": round((cluster.cpu_s() - cpu) / len(latencies) * 1000, 2),
        "latency_ms": latency_ms(latencies),
        "clients": clients,
        "errors": errors,
    }


async def fanout_load(
    cluster: Cluster, ids: list[str], locations: list[str], uids: dict[str, list[str]], args: Any
) -> dict[str, Any]:
    """Chargers on the first instance, subscribers on the last (the other one when two)."""
    a, b = cluster.servers[0], cluster.servers[-1]
    sent: dict[Key, float] = {}
    tally = Tally()
    origin = clock_origin()
    stations = [
        Station(
            f"ws://127.0.0.1:{a.port}/ocpp",
            station_id,
            auth=basic_auth(station_id),
            id_tag=TOKEN_UID,
            tally=tally,
            meters_per_session=1,
            clock_start=origin,
        )
        for station_id in ids
    ]
    await connect_and_boot(stations, 120)
    url = f"ws://127.0.0.1:{b.port}/graphql"
    subscribers = [Subscriber(url, locations, sent) for _ in range(args.subscribers)]
    async with asyncio.timeout(180):
        await asyncio.gather(*(s.open() for s in subscribers))
    listeners = [asyncio.create_task(s.listen()) for s in subscribers]
    try:
        # A subscription is live once its instance has subscribed the Redis channel: toggle one
        # EVSE until a change reaches every subscriber (as bench/fanout.py does).
        first, status = stations[0], "Available"
        async with asyncio.timeout(180):
            for attempt in range(60):
                status = ("Unavailable", "Available")[attempt % 2]
                warm = await change_status(first, uids[first.station_id][0], status, sent)
                with contextlib.suppress(TimeoutError):
                    await wait_seen(subscribers, warm, 5)
                    break
        if status != "Available":
            await change_status(first, uids[first.station_id][0], "Available", sent)
        for s in subscribers:
            s.latencies_s.clear()
        cpu = cluster.cpu_s()
        began = time.monotonic()
        keys: list[Key] = []
        for i in range(args.changes):
            station = stations[i % len(stations)]
            status = ("Charging", "Available")[(i // len(stations)) % 2]
            keys.append(await change_status(station, uids[station.station_id][0], status, sent))
            delay = began + (i + 1) / args.rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)  # the schedule of changes
        await wait_seen(subscribers, keys[-1], 60)
        cpu = cluster.cpu_s() - cpu
    finally:
        for task in listeners:
            task.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)
        await asyncio.gather(*(s.close() for s in subscribers), return_exceptions=True)
        await asyncio.gather(*(s.close() for s in stations), return_exceptions=True)
    latencies = [x for s in subscribers for x in s.latencies_s]
    missing = sum(len(set(keys) - s.seen) for s in subscribers)
    return {
        "latency_ms": latency_ms(latencies),
        "deliveries": len(latencies),
        "missing": missing,
        "changes": len(keys),
        "subscribers": len(subscribers),
        "server_cpu_ms_per_change": round(cpu / len(keys) * 1000, 2),
    }


async def takeovers(cluster: Cluster, runs: int) -> list[float]:
    """SIGKILL the leader; seconds until another instance's /readyz says it leads."""
    times: list[float] = []
    for run in range(runs):
        flags = await leader_flags(cluster.servers)
        if flags.count(True) != 1:
            raise RuntimeError(f"expected one leader before takeover {run}, got {flags}")
        leader = cluster.servers[flags.index(True)]
        others = [s for s in cluster.servers if s is not leader]
        assert leader.process is not None
        leader.process.kill()  # SIGKILL: no shutdown, the lock goes with the dead session
        began = time.perf_counter()
        async with asyncio.timeout(60):
            while not any(await leader_flags(others)):  # noqa: ASYNC110  (another process)
                await asyncio.sleep(0.02)
        times.append(time.perf_counter() - began)
        leader.process.wait(10)
        cluster.servers.remove(leader)
        note(f"takeover {run + 1}/{runs}: {times[-1]:.2f}s; starting a replacement")
        await cluster.add()
    return times


async def frozen_takeover(cluster: Cluster) -> float:
    """SIGSTOP the leader (alive, socket open, silent); seconds until another instance leads.
    The frozen one is then killed: the cluster is not used after this."""
    flags = await leader_flags(cluster.servers)
    leader = cluster.servers[flags.index(True)]
    others = [s for s in cluster.servers if s is not leader]
    assert leader.process is not None
    leader.process.send_signal(signal.SIGSTOP)
    began = time.perf_counter()
    try:
        async with asyncio.timeout(120):
            while not any(await leader_flags(others)):  # noqa: ASYNC110  (another process)
                await asyncio.sleep(0.05)
        return time.perf_counter() - began
    finally:
        leader.process.kill()
        leader.process.wait(10)
        cluster.servers.remove(leader)


def paired(figure: str, unit: str, key: str, one: dict[str, Any], two: dict[str, Any]) -> None:
    """The figure for one and two instances, the second with its ratio to the first."""
    emit(BENCH, figure, _dig(one, key), unit, instances=1, **one)
    ratio = None
    if _dig(one, key):
        ratio = round(_dig(two, key) / _dig(one, key), 3)
    emit(BENCH, figure, _dig(two, key), unit, instances=2, ratio_two_to_one=ratio, **two)


def _dig(record: dict[str, Any], key: str) -> Any:
    value: Any = record
    for part in key.split("."):
        value = value[part]
    return value


async def main(args: argparse.Namespace) -> None:
    prefix = f"bench-cluster:{uuid.uuid4().hex[:8]}:"
    redis = Redis.from_url(REDIS_URL, decode_responses=True)
    redis_pid = int((await redis.info("server"))["process_id"])
    stations, fans = args.stations, args.fan_stations
    async with database("postgresql") as url:
        locations = max(args.locations, 2 * (stations + fans))
        note(f"seeding {locations} locations, one station each")
        network = await seed_network(
            url, locations=locations, stations_per_location=1, evses_per_station=1,
            password=STATION_PASSWORD,
        )  # fmt: skip
        from app.graphql.types import node

        ids = network.station_ids
        # Separate stations per run: a station's compressed clock never goes back.
        ocpp_ids = [ids[:stations], ids[stations : 2 * stations]]
        fan_ids = [ids[2 * stations + i * fans : 2 * stations + (i + 1) * fans] for i in (0, 1)]
        fan_locations = [
            [str(node.global_id(node.LOCATION, ids.index(s) + 1)) for s in group]
            for group in fan_ids
        ]
        cluster = Cluster(url, prefix, args.poll)
        results: list[dict[str, dict[str, Any]]] = []
        try:
            for run in (0, 1):
                note(f"starting instance {run + 1}")
                await cluster.add()
                n = len(cluster.servers)
                note(f"{n} instance(s): OCPP saturation {args.seconds}s, {stations} stations")
                ocpp = await ocpp_load(cluster, ocpp_ids[run], args.seconds, redis_pid)
                note(f"{n} instance(s): search, {args.clients} clients, {args.seconds}s")
                search = await search_load(cluster, args.clients, args.seconds)
                note(f"{n} instance(s): fan-out to {args.subscribers} subscribers")
                fan = await fanout_load(
                    cluster, fan_ids[run], fan_locations[run], network.evse_uids, args
                )
                results.append({"ocpp": ocpp, "search": search, "fanout": fan})
            one, two = results
            paired("ocpp_throughput", "msgs/s", "msgs_per_s", one["ocpp"], two["ocpp"])
            paired("search_throughput", "req/s", "req_per_s", one["search"], two["search"])
            paired("fanout_latency", "ms p99", "latency_ms.p99", one["fanout"], two["fanout"])
            note(f"leader takeover x{args.takeovers}")
            times = await takeovers(cluster, args.takeovers)
            note("leader frozen (SIGSTOP): takeover by lease")
            frozen = await frozen_takeover(cluster)
        finally:
            cluster.stop()
            keys = [key async for key in redis.scan_iter(match=prefix + "*", count=1000)]
            if keys:
                await redis.delete(*keys)
            await redis.aclose()
    emit(
        BENCH, "leader_takeover", round(percentile(times, 50) or 0, 2), "s p50",
        max_s=round(max(times), 2), runs=[round(t, 2) for t in times],
        leader_poll_interval_s=args.poll,
    )  # fmt: skip
    lease_s = max(5 * args.poll, 10.0)  # Leadership's default lease
    emit(BENCH, "leader_takeover_frozen", round(frozen, 2), "s", lease_s=lease_s)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small loads, 3 s phases")
    parser.add_argument("--stations", type=int, default=None, help="OCPP stations per run")
    parser.add_argument("--seconds", type=float, default=None, help="per OCPP/search phase")
    parser.add_argument("--locations", type=int, default=None, help="seeded, for the search")
    parser.add_argument("--clients", type=int, default=8, help="search clients")
    parser.add_argument("--subscribers", type=int, default=None)
    parser.add_argument("--fan-stations", type=int, default=5)
    parser.add_argument("--changes", type=int, default=None)
    parser.add_argument("--rate", type=float, default=5.0, help="status changes per second")
    parser.add_argument("--takeovers", type=int, default=None)
    parser.add_argument("--poll", type=float, default=2.0, help="LEADER_POLL_INTERVAL_S")
    args = parser.parse_args(argv)
    quick = args.quick
    args.stations = args.stations or (40 if quick else 200)
    args.seconds = args.seconds or (3.0 if quick else 20.0)
    args.locations = args.locations or (1_000 if quick else 10_000)
    args.subscribers = args.subscribers or (50 if quick else 250)
    args.changes = args.changes or (10 if quick else 100)
    args.takeovers = args.takeovers or (2 if quick else 5)
    return args


if __name__ == "__main__":
    emit(BENCH, "machine", None, "", **machine())
    asyncio.run(main(parse()))
