"""CPU per station search in one process, without HTTP sockets or a second process: the app
behind httpx's ASGI transport on a seeded SQLite (or PostgreSQL) database, the same query and
points as bench/graphql.py. Process CPU (every thread: the aiosqlite worker too) per request,
so a before/after pair stays comparable on a loaded machine.

    python bench/search_cpu.py [--requests 300] [--seed-db PATH] [--dump FILE] [--cprofile FILE]

`--dump` writes the responses of a fixed set of searches (for `cmp` before/after);
`--seed-db` keeps the seeded SQLite file to reuse (seeding takes ~10 s). The timed searches
run twice over the same points: `value` is the first pass (points not seen before, after 30
warm-up searches), `repeat_cpu_ms` the second (every page seen before: what a search costs
when the app can reuse work across requests).
"""

import argparse
import asyncio
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: bench/ must not shadow installed packages
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

import cProfile  # after the path fix: bench/profile.py would shadow `profile`

import httpx

from bench.graphql import SEARCH, TRIVIAL, search_body
from bench.harness import emit, machine, migrate, note, seed_network

BENCH = "search_cpu"


async def seeded(path: Path, locations: int) -> None:
    if await asyncio.to_thread(path.exists):
        return
    url = f"sqlite+aiosqlite:///{path}"
    await migrate(url)
    await seed_network(
        url, locations=locations, stations_per_location=1, evses_per_station=3, password=None
    )


async def measure(
    client: httpx.AsyncClient, make_body: Any, count: int, clients: int
) -> dict[str, float]:
    errors = 0
    queue = list(range(count))

    async def worker() -> None:
        nonlocal errors
        while queue:
            queue.pop()
            answer = await client.post("/graphql", json=make_body())
            # Bytes, not JSON: decoding the page here would count against the server's CPU.
            if answer.status_code != 200 or b'"errors":' in answer.content:
                errors += 1

    cpu, wall = time.process_time(), time.perf_counter()
    async with asyncio.timeout(600):
        await asyncio.gather(*(worker() for _ in range(clients)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {"cpu_ms": round(cpu / count * 1000, 3), "wall_ms": round(wall / count * 1000, 3),
            "errors": errors}  # fmt: skip


async def run(args: argparse.Namespace) -> None:
    from app.main import create_app
    from app.settings import Settings

    with tempfile.TemporaryDirectory(prefix="chargenet-search-cpu-") as folder:
        seed = Path(args.seed_db) if args.seed_db else Path(folder) / "seed.db"
        note(f"seeding {args.locations} locations into {seed} (kept if it exists)")
        await seeded(seed, args.locations)
        work = Path(folder) / "bench.db"
        shutil.copy(seed, work)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=f"sqlite+aiosqlite:///{work}",
            rate_limit_ip_per_s=0.0,
            rate_limit_principal_per_s=0.0,
            log_level="warning",
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                if args.dump:
                    rng = random.Random(7)
                    pages = []
                    for _ in range(20):
                        answer = await client.post("/graphql", json=search_body(rng, args.radius))
                        pages.append(answer.json())
                    text = json.dumps(pages, indent=1, sort_keys=True)
                    await asyncio.to_thread(Path(args.dump).write_text, text)
                rng = random.Random(50)

                def body() -> dict[str, Any]:
                    return search_body(rng, args.radius)

                await measure(client, body, 30, args.clients)  # warm up
                trivial = await measure(client, lambda: {"query": TRIVIAL}, 300, args.clients)
                profiler = cProfile.Profile() if args.cprofile else None
                if profiler:
                    profiler.enable()
                search = await measure(client, body, args.requests, args.clients)
                if profiler:
                    profiler.disable()
                    profiler.dump_stats(args.cprofile)
                rng.seed(50)  # the same points again: what a search seen before costs
                again = await measure(client, body, args.requests, args.clients)
    emit(
        BENCH,
        "search_cpu_ms",
        search["cpu_ms"],
        "ms",
        trivial_cpu_ms=trivial["cpu_ms"],
        cpu_ratio_to_trivial=round(trivial["cpu_ms"] / search["cpu_ms"], 3),
        wall_ms=search["wall_ms"],
        repeat_cpu_ms=again["cpu_ms"],
        requests=args.requests,
        errors=search["errors"] + trivial["errors"] + again["errors"],
        query_chars=len(SEARCH),
    )


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--locations", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--radius", type=float, default=15_000.0, help="metres")
    parser.add_argument("--seed-db", help="SQLite file to seed once and reuse")
    parser.add_argument("--dump", help="write 20 fixed searches' responses here")
    parser.add_argument("--cprofile", help="cProfile the timed searches into this file")
    return parser.parse_args()


if __name__ == "__main__":
    emit(BENCH, "machine", None, "", **machine())
    asyncio.run(run(parse()))
