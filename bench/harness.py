"""What the server benchmarks share: a database per run, the server as a subprocess, its CPU
and memory read from /proc, a seeded network, percentiles and one JSON line per figure.

The server always runs in its own process (`chargenet serve` on 127.0.0.1), so the load
generator's CPU is never counted as the server's; on a 2-core machine they still compete.
"""

import asyncio
import contextlib
import json
import math
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
STATION_PASSWORD = "bench-station-password"  # shared by the simulated stations
TOKEN_UID = "BENCHTOKEN01"  # an RFID uid, not a secret
_TICKS = os.sysconf("SC_CLK_TCK")


def emit(bench: str, figure: str, value: float | int | None, unit: str, **extra: Any) -> None:
    """One figure as one JSON line on stdout (what `make bench` prints)."""
    record: dict[str, Any] = {"bench": bench, "figure": figure, "value": value, "unit": unit}
    record.update(extra)
    print(json.dumps(record), flush=True)


def note(message: str) -> None:
    """Progress for the human watching; stderr keeps stdout pure JSON lines."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    """nproc, CPU model, RAM, date and commit: printed once per run beside the figures."""
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    ram_kb = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_kb = int(line.split()[1])
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "ram_gib": round(ram_kb / 1024 / 1024, 1),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit or "unknown",
        "python": sys.version.split()[0],
    }


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of `values`; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def latency_ms(values_s: Sequence[float]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for q in (50, 95, 99):
        p = percentile(values_s, q)
        out[f"p{q}"] = round(p * 1000, 2) if p is not None else None
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class ProcSample:
    cpu_s: float
    rss_kb: int


def proc_sample(pid: int) -> ProcSample:
    """CPU seconds (user + system) and resident memory of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu_s = (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14, 15)
    rss_kb = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kb = int(line.split()[1])
    return ProcSample(cpu_s, rss_kb)


# -- databases --------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def database(kind: str) -> AsyncIterator[str]:
    """A fresh, migrated database for one run: a temp SQLite file, or a PostgreSQL database
    created on 127.0.0.1 and dropped afterwards. Yields its SQLAlchemy URL."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="chargenet-bench-") as folder:
            url = f"sqlite+aiosqlite:///{folder}/bench.db"
            await migrate(url)
            yield url
        return
    import asyncpg

    name = f"chargenet_bench_{os.getpid()}_{random.randrange(1_000_000)}"
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        url = f"{base}/{name}"
        await migrate(url)
        yield url
    finally:
        admin = await asyncpg.connect(PG_ADMIN_URL)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def migrate(url: str) -> None:
    process = await asyncio.create_subprocess_exec(
        str(BIN / "chargenet"),
        "migrate",
        env={**os.environ, "DATABASE_URL": url},
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"migrate failed for {url}: {err.decode()[-2000:]}")


# -- the server under test --------------------------------------------------------------------


class Server:
    """A server subprocess on 127.0.0.1: `chargenet serve`, or any command given."""

    def __init__(self, command: list[str], port: int, env: dict[str, str]) -> None:
        self.port = port
        self._command = command
        self._env = env
        self.process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()  # noqa: SIM115  (lives as long as the server)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def sample(self) -> ProcSample:
        return proc_sample(self.pid)

    async def start(self, ready_path: str | None = "/healthz", timeout_s: float = 60.0) -> None:
        self.process = subprocess.Popen(  # noqa: ASYNC220  (started once, never awaited)
            self._command, env=self._env, cwd=ROOT, stdout=self._log, stderr=self._log
        )
        async with asyncio.timeout(timeout_s):
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"server exited at start:\n{self.output()[-3000:]}")
                with contextlib.suppress(OSError, httpx.TransportError):
                    if ready_path is None:
                        _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                        writer.close()
                        return
                    async with httpx.AsyncClient() as client:
                        answer = await client.get(f"http://127.0.0.1:{self.port}{ready_path}")
                        if answer.status_code == 200:
                            return
                await asyncio.sleep(0.1)  # polling a starting process: nothing to wait on

    def output(self) -> str:
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")

    def stop(self, timeout_s: float = 20.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if folder := os.environ.get("BENCH_LOG_DIR"):  # keep the server's log for a look
            Path(folder, f"server-{self.port}.log").write_text(self.output())


def app_server(url: str, port: int, **settings: str) -> Server:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "LOG_LEVEL": "warning",
        "OCPP_ALLOW_UNKNOWN_STATIONS": "false",
        **{k.upper(): v for k, v in settings.items()},
    }
    command = [str(BIN / "chargenet"), "serve", "--host", "127.0.0.1", "--port", str(port)]
    return Server(command, port, env)


@contextlib.asynccontextmanager
async def running(server: Server, ready_path: str | None = "/healthz") -> AsyncIterator[Server]:
    try:
        await server.start(ready_path)
        yield server
    finally:
        server.stop()


def profile_server(
    server: Server, out: str | None, seconds: float
) -> "subprocess.Popen[bytes] | None":
    """py-spy the server for `seconds` into `out` (collapsed stacks; see bench/profile.py)."""
    if not out:
        return None
    command = [str(BIN / "py-spy"), "record", "--format", "raw", "--nonblocking", "-o", out]
    command += ["-d", str(max(1, int(seconds))), "-r", "200", "-p", str(server.pid)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# -- seeding (the app's own services, plus bulk inserts for the large tables) ---------------------


@dataclass(frozen=True, slots=True)
class SeededNetwork:
    station_ids: list[str]
    location_ids: list[int]
    evse_uids: dict[str, list[str]]


def grid_points(count: int, rng: random.Random) -> Iterator[tuple[float, float]]:
    """Locations scattered over the Netherlands (about 52.0-53.0 N, 4.0-6.5 E)."""
    for _ in range(count):
        yield 52.0 + rng.random(), 4.0 + 2.5 * rng.random()


async def seed_network(
    url: str,
    *,
    locations: int,
    stations_per_location: int,
    evses_per_station: int,
    password: str | None,
    prefix: str = "BENCH",
    seed: int = 8,
) -> SeededNetwork:
    """Operator, tariffs and token through the services; locations, stations, EVSEs and
    connectors bulk-inserted with explicit ids into the fresh database (rows built as the
    models, so their defaults apply; one light argon2 hash shared by all stations, see
    `bench_hash`)."""
    import sqlalchemy as sa
    from sqlmodel import SQLModel

    from app.db.engine import create_engine, create_session_factory
    from app.db.models import ChargingStation, Connector, Evse, Location, Operator
    from app.services.demo import create_demo_tariffs
    from app.services.provisioning import create_id_token

    engine = create_engine(url)
    factory = create_session_factory(engine)
    rng = random.Random(seed)
    try:
        async with factory() as db:
            operator = Operator(name="bench operator", country_code="NL", party_id="BNC")
            db.add(operator)
            await db.commit()
            await db.refresh(operator)
        ac, _ = await create_demo_tariffs(session_factory=factory, operator_id=operator.id)
        await create_id_token(session_factory=factory, uid=TOKEN_UID)
        hashed = bench_hash(password) if password is not None else None
        network = SeededNetwork([], [], {})
        # One model object per table gives the defaults; each row is a copy with its own values
        # (building 80,000 SQLModel objects alone takes minutes on a busy 2-core machine).
        templates: dict[type[SQLModel], dict[str, Any]] = {
            Location: Location(
                name="",
                latitude=0.0,
                longitude=0.0,
                operator_id=operator.id,
                city="Bench",
                time_zone="Europe/Amsterdam",
                opening_hours={"twentyfourseven": True},
            ).model_dump(),
            ChargingStation: ChargingStation(id="", password_hash=hashed).model_dump(),
            Evse: Evse(station_id="", ocpp_evse_id=1, uid="").model_dump(),
            Connector: Connector(evse_id=0, tariff_id=ac.id).model_dump(),
        }
        rows: dict[type[SQLModel], list[dict[str, Any]]] = {model: [] for model in templates}

        def add(model: type[SQLModel], **values: Any) -> None:
            rows[model].append({**templates[model], **values})

        for index, (lat, lng) in enumerate(grid_points(locations, rng), start=1):
            network.location_ids.append(index)
            add(
                Location,
                id=index,
                name=f"{prefix} site {index}",
                latitude=lat,
                longitude=lng,
                address=f"Benchstraat {index}",
            )
            for _ in range(stations_per_location):
                station_id = f"{prefix}-{len(network.station_ids):05d}"
                network.station_ids.append(station_id)
                add(ChargingStation, id=station_id, location_id=index)
                for number in range(1, evses_per_station + 1):
                    evse_id = len(rows[Evse]) + 1
                    uid = f"{station_id}*{number}"
                    network.evse_uids.setdefault(station_id, []).append(uid)
                    add(Evse, id=evse_id, station_id=station_id, ocpp_evse_id=number, uid=uid)
                    add(Connector, id=evse_id, evse_id=evse_id, ocpp_connector_id=1)
        async with engine.begin() as conn:
            for model, batch in rows.items():
                table = model.__table__  # type: ignore[attr-defined]
                for start in range(0, len(batch), 5000):
                    await conn.execute(table.insert(), batch[start : start + 5000])
            if engine.dialect.name == "postgresql":  # the server inserts after us
                for table in ("location", "evse", "connector"):
                    await conn.execute(
                        sa.text(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT max(id) FROM {table}))"
                        )
                    )
        return network
    finally:
        await engine.dispose()


def bench_hash(password: str) -> str:
    """An argon2id hash at light parameters (t=1, 8 MiB): the server verifies it exactly as a
    production hash (the parameters are in the hash) but at a fraction of the CPU, so the
    connect phases measure the OCPP path, not argon2 (production parameters: ~50 ms a check
    unloaded, once per station and process; the authenticator remembers it)."""
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(password)


def basic_auth(station_id: str, password: str = STATION_PASSWORD) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{station_id}:{password}".encode()).decode()
