"""Several chargenet processes (`chargenet serve`) on 127.0.0.1 sharing PostgreSQL and Redis.

Each instance is a real process started with `python -m app.cli serve`; the harness reads its
log lines as they come, so a test waits for "is the leader" or "ready" instead of sleeping.
"""

import asyncio
import contextlib
import os
import signal
import socket
import sys
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from tests.conftest import ROOT

READY = "chargenet ready"
# The lifespan logs READY before uvicorn binds its socket; this line comes once it listens.
SERVING = "Uvicorn running on"
START_TIMEOUT_S = 120.0  # importing the app takes seconds, minutes on a loaded shared machine


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Instance:
    """One running chargenet process and the log lines it wrote so far."""

    name: str
    port: int
    process: asyncio.subprocess.Process
    lines: list[str] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _reader: asyncio.Task[None] | None = None

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def _read(self) -> None:
        assert self.process.stderr is not None
        while line := await self.process.stderr.readline():
            self.lines.append(line.decode(errors="replace").rstrip())
            self._changed.set()
        self._changed.set()

    async def wait_for_line(self, text: str, *, after: int = 0, timeout_s: float = 15.0) -> str:
        """The first log line from index `after` on that contains `text` (bounded wait)."""
        async with asyncio.timeout(timeout_s):
            while True:
                for line in self.lines[after:]:
                    if text in line:
                        return line
                if self.process.returncode is not None:
                    raise RuntimeError(f"{self.name} exited:\n" + "\n".join(self.lines[-30:]))
                self._changed.clear()
                await self._changed.wait()

    def kill(self) -> None:
        """SIGKILL: no shutdown, no released records or locks (a crash)."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(8):  # then SIGKILL: teardown must not hang
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                self._reader.cancel()
                await self._reader


async def start_instance(name: str, env: dict[str, str], workdir: str) -> Instance:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", "serve",
        "--host", "127.0.0.1", "--port", str(port), "--instance-id", name,
        cwd=workdir,  # no .env file there: the environment below is the whole configuration
        env={**env, "PYTHONPATH": str(ROOT)},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    instance = Instance(name, port, process)
    instance._reader = asyncio.create_task(instance._read())
    return instance


@asynccontextmanager
async def cluster(
    names: Sequence[str], env: dict[str, str], *, one_by_one: bool = False
) -> AsyncIterator[Callable[[str], Instance]]:
    """Start the named instances (the first is the leader when `one_by_one`); every process is
    killed on the way out, whatever happened."""
    instances: dict[str, Instance] = {}
    with tempfile.TemporaryDirectory() as workdir:
        try:
            if one_by_one:
                for name in names:
                    instances[name] = await start_instance(name, env, workdir)
                    await instances[name].wait_for_line(SERVING, timeout_s=START_TIMEOUT_S)
            else:
                for name in names:
                    instances[name] = await start_instance(name, env, workdir)
                async with asyncio.timeout(START_TIMEOUT_S):
                    await asyncio.gather(
                        *(
                            i.wait_for_line(SERVING, timeout_s=START_TIMEOUT_S)
                            for i in instances.values()
                        )
                    )
            yield instances.__getitem__
        finally:
            await asyncio.gather(*(i.stop() for i in instances.values()), return_exceptions=True)


def cluster_env(*, database_url: str, redis_url: str, prefix: str, **extra: str) -> dict[str, str]:
    """The environment every instance shares (PATH and HOME kept for the interpreter)."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TZ")}
    return {
        **keep,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "REDIS_KEY_PREFIX": prefix,
        "LOG_LEVEL": "info",
        "LEADER_POLL_INTERVAL_S": "0.5",
        "CLUSTER_REFRESH_INTERVAL_S": "2",
        "CLUSTER_STATION_TTL_S": "10",
        "GRAPHQL_EXPLORER": "false",
        **extra,
    }
