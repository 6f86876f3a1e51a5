"""Benchmark the driver app's hot query: stations near a point, a page of 50 with EVSEs,
connectors and tariffs, over HTTP from concurrent httpx clients against `chargenet serve`.

    python bench/graphql.py [--quick] [--locations 10000] [--db sqlite,postgresql]

Closed loop (each client sends its next request when the last is answered): requests/s and
latency. Baseline on the same server in the same run: `{ __typename }` -> ratio_to_trivial.
Then open loop at half the search's maximum rate (requests leave on a fixed schedule, whether
or not earlier ones are answered): p95 at that rate.
"""

import argparse
import asyncio
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: bench/ must not shadow installed packages
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import httpx

from bench.harness import (
    app_server,
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

BENCH = "graphql"
SEARCH = """
query Near($lat: Float!, $lng: Float!, $radius: Float!) {
  locations(filter: {near: {latitude: $lat, longitude: $lng}, radiusMeters: $radius}, first: 50) {
    totalCount
    edges { node {
      id name address distanceMeters availableEvses maxPowerKw
      coordinates { latitude longitude }
      evses { id uid status connectors {
        standard powerType maxElectricPowerKw
        tariff { id currency summary elements { priceComponents { type price vat stepSize } } }
      } }
    } }
  }
}
"""
TRIVIAL = "{ __typename }"


def search_body(rng: random.Random, radius_m: float) -> dict[str, Any]:
    variables = {"lat": 52.1 + 0.8 * rng.random(), "lng": 4.2 + 2.1 * rng.random()}
    return {"query": SEARCH, "variables": {**variables, "radius": radius_m}}


async def closed_loop(
    client: httpx.AsyncClient, make_body: Any, clients: int, seconds: float
) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds
    own = proc_sample(os.getpid()).cpu_s

    async def worker() -> None:
        nonlocal errors
        while time.monotonic() < deadline:
            body = make_body()
            began = time.perf_counter()
            answer = await client.post("/graphql", json=body)
            latencies.append(time.perf_counter() - began)
            if answer.status_code != 200 or "errors" in answer.json():
                errors += 1

    began = time.monotonic()
    async with asyncio.timeout(seconds + 60):
        await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = time.monotonic() - began
    return {
        "req_per_s": round(len(latencies) / elapsed, 1),
        "latency_ms": latency_ms(latencies),
        "requests": len(latencies),
        "errors": errors,
        "generator_cpu_util": round((proc_sample(os.getpid()).cpu_s - own) / elapsed, 2),
    }


async def open_loop(
    client: httpx.AsyncClient, make_body: Any, rate: float, seconds: float
) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0

    async def one() -> None:
        nonlocal errors
        began = time.perf_counter()
        answer = await client.post("/graphql", json=make_body())
        latencies.append(time.perf_counter() - began)
        if answer.status_code != 200 or "errors" in answer.json():
            errors += 1

    count = max(1, int(rate * seconds))
    start = time.monotonic()
    async with asyncio.timeout(seconds + 60), asyncio.TaskGroup() as group:
        for i in range(count):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)  # the schedule, not a wait for an event
            group.create_task(one())
    return {"rate": round(rate, 1), "latency_ms": latency_ms(latencies), "errors": errors}


async def run(kind: str, args: argparse.Namespace) -> None:
    async with database(kind) as url:
        note(f"{kind}: seeding {args.locations} locations, {args.locations * 3} EVSEs")
        began = time.monotonic()
        await seed_network(
            url,
            locations=args.locations,
            stations_per_location=1,
            evses_per_station=3,
            password=None,
        )
        note(f"{kind}: seeded in {time.monotonic() - began:.1f}s")
        port = free_port()
        rng = random.Random(50)
        # All clients share 127.0.0.1: the per-address rate limit would answer most requests
        # RATE_LIMITED (cheap) and skew both rates. 0 = no limit.
        unlimited = {"rate_limit_ip_per_s": "0", "rate_limit_principal_per_s": "0"}
        async with running(app_server(url, port, **unlimited)) as server:
            limits = httpx.Limits(max_connections=args.clients * 2)
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=60
            ) as client:
                probe = (await client.post("/graphql", json=search_body(rng, args.radius))).json()
                if "errors" in probe:
                    raise RuntimeError(f"the search query failed: {probe['errors']}")
                hits = len(probe["data"]["locations"]["edges"])
                note(f"{kind}: trivial query, {args.clients} clients, {args.seconds}s")
                trivial = await closed_loop(
                    client, lambda: {"query": TRIVIAL}, args.clients, args.seconds
                )
                note(f"{kind}: search, {args.clients} clients, {args.seconds}s")
                spy = profile_server(
                    server, args.profile and f"{args.profile}.{kind}", args.seconds
                )
                cpu = server.sample().cpu_s
                search = await closed_loop(
                    client, lambda: search_body(rng, args.radius), args.clients, args.seconds
                )
                cpu = server.sample().cpu_s - cpu
                if spy is not None:
                    await asyncio.to_thread(spy.wait, 60)
                half = search["req_per_s"] / 2
                note(f"{kind}: open loop at {half:.1f} req/s")
                paced = await open_loop(
                    client, lambda: search_body(rng, args.radius), half, args.seconds
                )
    common = {"db": kind, "locations": args.locations, "evses": args.locations * 3}
    emit(
        BENCH,
        "search_throughput",
        search["req_per_s"],
        "req/s",
        baseline=trivial["req_per_s"],
        ratio_to_trivial=round(search["req_per_s"] / trivial["req_per_s"], 3),
        latency_ms=search["latency_ms"],
        baseline_latency_ms=trivial["latency_ms"],
        server_cpu_ms_per_request=round(cpu / max(search["requests"], 1) * 1000, 2),
        page_size=hits,
        clients=args.clients,
        errors=search["errors"] + trivial["errors"],
        generator_cpu_util=search["generator_cpu_util"],
        **common,
    )
    emit(BENCH, "search_p95_at_half_max", paced["latency_ms"]["p95"], "ms", **paced, **common)


async def main(args: argparse.Namespace) -> None:
    for kind in args.db.split(","):
        await run(kind, args)


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="SQLite only, 5 s phases")
    parser.add_argument("--locations", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--radius", type=float, default=15_000.0, help="metres")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--db", default=None)
    parser.add_argument("--profile", help="py-spy the server during the search: PREFIX.<db>")
    args = parser.parse_args()
    args.seconds = args.seconds or (5.0 if args.quick else 20.0)
    args.db = args.db or ("sqlite" if args.quick else "sqlite,postgresql")
    return args


if __name__ == "__main__":
    emit(BENCH, "machine", None, "", **machine())
    asyncio.run(main(parse()))
