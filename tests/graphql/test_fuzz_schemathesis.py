"""schemathesis in GraphQL mode against a live server: no 500s, no unmasked errors.

Bounded in count (FUZZ_EXAMPLES cases over every query and mutation per principal, drawn by
Hypothesis with no example database) and in time (a timeout per request, a deadline per run).
Run as anonymous, as a driver and as an operator admin, so the fuzzer gets past the permission
checks into the resolvers.
"""

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from app.db.engine import create_engine, create_session_factory
from app.settings import Settings
from tests.access_builders import operator_headers
from tests.reservation_builders import bearer, make_driver

pytestmark = pytest.mark.e2e

FUZZ_EXAMPLES = 60  # per principal
RUN_DEADLINE_S = 35.0
# What must never reach a client: stack traces, SQL, driver and exception names.
LEAK_MARKERS = (
    "traceback",
    "select ",
    "insert into",
    "update ",
    "sqlalchemy",
    "asyncpg",
    "sqlite",
    "psycopg",
    'file "',
    "exception",
    "overflowerror",
    "keyerror",
    "typeerror",
    "attributeerror",
)


@dataclass
class Server:
    url: str
    app: Starlette
    settings: Settings


@pytest.fixture
def server(settings: Settings) -> Iterator[Server]:
    """uvicorn on 127.0.0.1 in a thread of its own (the fuzzer's HTTP client is blocking)."""
    from app.main import create_app

    app = create_app(
        settings.model_copy(update={"rate_limit_ip_per_s": 0.0, "rate_limit_principal_per_s": 0.0})
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="on", log_level="warning"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])))
    thread.start()
    try:
        started = time.monotonic()
        while not server.started:  # bounded: uvicorn sets the flag once it listens
            assert thread.is_alive(), "uvicorn exited before it started"
            assert time.monotonic() - started < 15, "uvicorn did not start within 15 s"
            time.sleep(0.01)
        yield Server(f"http://127.0.0.1:{port}/graphql", app, settings)
    finally:
        server.should_exit = True
        thread.join(timeout=45)
        sock.close()


def assert_nothing_leaks(response: Any, sent: str) -> None:
    """No 5xx, and no error message carries a leak marker that the request did not carry
    (a clear error quotes the bad value, and Hypothesis draws strings from our own source)."""
    assert response.status_code < 500, response.text
    body = response.json()
    for error in body.get("errors") or []:
        message = str(error.get("message", "")).lower()
        leaks = [marker for marker in LEAK_MARKERS if marker in message and marker not in sent]
        assert not leaks, f"unmasked error: {error}"
        code = (error.get("extensions") or {}).get("code")
        if message == "unexpected error.":
            assert code == "INTERNAL_SERVER_ERROR", error
            assert error["extensions"]["requestId"], error


def principal_headers(server: Server, kind: str) -> dict[str, str]:
    """Authorization for a new driver or operator admin, made through the database (the
    server's own session factory belongs to its thread's event loop)."""
    if kind == "anonymous":
        return {}
    tokens = server.app.state.runtime.tokens

    async def make() -> dict[str, str]:
        engine = create_engine(server.settings.database_url)
        try:
            session_factory = create_session_factory(engine)
            if kind == "driver":
                driver_id, _ = await make_driver(session_factory)
                return bearer(tokens, driver_id)
            return await operator_headers(session_factory, tokens)
        finally:
            await engine.dispose()

    return asyncio.run(make())


@pytest.mark.parametrize("principal", ["anonymous", "driver", "operator"])
def test_fuzzing_finds_no_server_error_and_no_unmasked_error(
    server: Server, principal: str
) -> None:
    schema = schemathesis.graphql.from_url(server.url, timeout=10)
    http = requests.Session()
    http.headers.update(principal_headers(server, principal))
    deadline = time.monotonic() + RUN_DEADLINE_S
    seen: dict[str, int] = {}

    @given(data=st.data())
    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(data: st.DataObject) -> None:
        if time.monotonic() > deadline:
            return  # out of time: the remaining examples pass without a request
        case = data.draw(schema.as_strategy())
        response = case.call(session=http, timeout=10)
        seen[case.operation.label] = seen.get(case.operation.label, 0) + 1
        assert_nothing_leaks(response, sent=str(case.body).lower())

    fuzz()
    assert seen, "the fuzzer sent nothing"
    if time.monotonic() <= deadline:  # a full run (not cut short on a loaded machine)
        assert len(seen) >= 10, f"the fuzzer reached too few operations: {sorted(seen)}"
