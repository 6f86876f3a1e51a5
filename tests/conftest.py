"""Shared fixtures: a migrated database (SQLite or PostgreSQL), the app, a live uvicorn server.

`DATABASE_URL` selects the database: unset means a SQLite file in a temporary folder; a
PostgreSQL URL means a fresh database created next to it for this run and dropped after.
"""

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
import uvicorn
from alembic import command
from alembic.config import Config
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from app.db.engine import SessionFactory, create_engine, create_session_factory
from app.db.models import metadata
from app.settings import Settings

if TYPE_CHECKING:
    from app.events import Subscription
    from app.main import Runtime

ROOT = Path(__file__).resolve().parent.parent

# The suites run on shared 2-core machines: slow example generation under load is not a
# failure of the code under test (the property, not the clock, is what these tests check).
hypothesis_settings.register_profile("shared-machine", suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("shared-machine")


def alembic_config(database_url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logger"] = False
    return config


async def _admin_execute(url: str, statement: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(sa.text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty database for this test run."""
    given = os.environ.get("DATABASE_URL")
    if not given or given.startswith("sqlite"):
        path = tmp_path_factory.mktemp("db") / "chargenet-test.db"
        url = f"sqlite+aiosqlite:///{path}"
        command.upgrade(alembic_config(url), "head")
        yield url
        return
    base = make_url(given)
    name = f"{base.database or 'chargenet'}_{uuid.uuid4().hex[:8]}"
    admin = base.set(database="postgres").render_as_string(hide_password=False)
    asyncio.run(_admin_execute(admin, f'CREATE DATABASE "{name}"'))
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        command.upgrade(alembic_config(url), "head")
        yield url
    finally:
        asyncio.run(_admin_execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _empty_tables(engine: AsyncEngine) -> None:
    names = [table.name for table in reversed(metadata.sorted_tables)]
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            await connection.execute(
                sa.text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE")
            )
        else:
            for name in names:
                await connection.execute(sa.text(f"DELETE FROM {name}"))


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        ocpp_call_timeout_s=5.0,
        ocpp_heartbeat_interval_s=60,
        # GraphQL rate limits off: tests fire requests faster than any client may; the rate
        # limit tests turn them on.
        rate_limit_ip_per_s=0.0,
        rate_limit_principal_per_s=0.0,
    )


@pytest.fixture
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings.database_url)
    await _empty_tables(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
def session_factory(engine: AsyncEngine) -> SessionFactory:
    return create_session_factory(engine)


@asynccontextmanager
async def running(app: Starlette) -> AsyncIterator["Runtime"]:
    """Run the app's lifespan (startup and shutdown) around the block."""
    async with app.router.lifespan_context(app):
        yield app.state.runtime


@pytest.fixture
async def app(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Starlette]:
    """The app with its lifespan running, on an emptied database."""
    from app.main import create_app

    application = create_app(settings)
    async with running(application):
        yield application


@dataclass
class LiveServer:
    app: Starlette
    host: str
    port: int

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def runtime(self) -> "Runtime":
        runtime: Runtime = self.app.state.runtime
        return runtime


@asynccontextmanager
async def serve(app: Starlette) -> AsyncIterator[LiveServer]:
    """uvicorn serving `app` on 127.0.0.1 and a free port, in this event loop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="on", log_level="warning", ws_ping_interval=None)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(15):
            while not server.started:
                if task.done():
                    task.result()
                    raise RuntimeError("uvicorn exited before it started")
                await asyncio.sleep(0.01)
        yield LiveServer(app, "127.0.0.1", port)
    finally:
        server.should_exit = True
        # Shutdown drains every background task and flushes the message log; on a loaded
        # machine with SQLite that can wait on a write lock, so the bound is generous.
        async with asyncio.timeout(45):
            await task
        sock.close()


@pytest.fixture
async def live_server(settings: Settings, engine: AsyncEngine) -> AsyncIterator[LiveServer]:
    from app.main import create_app

    async with serve(create_app(settings)) as server:
        yield server


@pytest.fixture
def subscribed(live_server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> asyncio.Queue[set[str]]:
    """The topics of each subscription the live server opens on its bus, once it is open.

    Lets a test wait until a GraphQL subscription is really listening before it makes the
    change the subscription should see, instead of sleeping.
    """
    opened: asyncio.Queue[set[str]] = asyncio.Queue()
    bus = live_server.runtime.bus
    subscribe = bus.subscribe

    @asynccontextmanager
    async def watched(*names: str, max_queue: int = 1000) -> AsyncIterator["Subscription"]:
        async with subscribe(*names, max_queue=max_queue) as subscription:
            opened.put_nowait(set(names))
            yield subscription

    monkeypatch.setattr(bus, "subscribe", watched)
    return opened
