"""The OCPP handshake lockout shared over Redis: guesses spread over instances count together."""

import base64
import socket
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.exceptions import InvalidStatus

from app.db.engine import SessionFactory
from app.ocpp.auth import StationAuthenticator
from app.ocpp.limits import LockoutPolicy, RedisFailureStore
from app.settings import Settings
from tests.conftest import LiveServer, serve
from tests.factories import make_station
from tests.multi.conftest import REDIS_URL
from tests.ocpp.clients import raw_socket

PASSWORD = "right-password-0001"


class Clock:
    """A hand-driven wall clock."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest_asyncio.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
def prefix() -> str:
    return f"test:{uuid.uuid4().hex[:12]}:ocpp-lockout:"


def stores(
    redis: Redis, prefix: str, clock: Clock, policy: LockoutPolicy
) -> list[RedisFailureStore]:
    """Two instances' stores: separate objects, one Redis, one prefix."""
    return [RedisFailureStore(redis, policy, prefix=prefix, clock=clock) for _ in range(2)]


async def test_failures_on_a_lock_out_on_b_and_lockouts_double_across_instances(
    redis: Redis, prefix: str
) -> None:
    clock = Clock()
    policy = LockoutPolicy(max_failures=5, window_s=300, lockout_s=60, max_lockout_s=200)
    a, b = stores(redis, prefix, clock, policy)
    for store in (a, b, a, b):  # guesses spread over both instances
        assert await store.record_failure("addr:10.9.9.9") == 0
    assert await a.retry_after("addr:10.9.9.9") == 0
    assert await b.record_failure("addr:10.9.9.9") == 60  # the fifth, on B, locks
    clock.now += 59
    assert await a.retry_after("addr:10.9.9.9") == pytest.approx(1)
    clock.now += 1
    assert await b.retry_after("addr:10.9.9.9") == 0
    for store in (a, b, a, b):
        assert await store.record_failure("addr:10.9.9.9") == 0
    assert await a.record_failure("addr:10.9.9.9") == 120  # the second lockout doubles
    clock.now += 120
    for store in (b, a, b, a, b):
        locked = await store.record_failure("addr:10.9.9.9")
    assert locked == 200  # capped at max_lockout_s
    assert await a.retry_after("addr:other") == 0
    await b.forgive("addr:10.9.9.9")
    assert await a.retry_after("addr:10.9.9.9") == 0
    assert await a.record_failure("addr:10.9.9.9") == 0  # forgiven: counting starts over
    assert await redis.pttl(f"{prefix}addr:10.9.9.9") > 0  # no key outlives its use


async def test_failures_spread_wider_than_the_window_never_lock_and_quiet_forgets_doubling(
    redis: Redis, prefix: str
) -> None:
    clock = Clock()
    policy = LockoutPolicy(max_failures=3, window_s=10, lockout_s=5, max_lockout_s=100)
    a, b = stores(redis, prefix, clock, policy)
    for n in range(10):
        assert await (a, b)[n % 2].record_failure("station:CS") == 0
        clock.now += 5.1  # at most two failures inside any 10 s
    await a.record_failure("station:CS")
    assert await b.record_failure("station:CS") == 5  # three within 10 s: locked
    clock.now += 5 + 10.5  # the lock, then a whole quiet window
    for store in (a, b):
        await store.record_failure("station:CS")
    assert await a.record_failure("station:CS") == 5  # not 10: the doubling was forgotten


async def test_the_authenticator_on_b_refuses_a_station_locked_by_guesses_on_a(
    session_factory: SessionFactory, redis: Redis, prefix: str
) -> None:
    await make_station(session_factory, station_id="CS-SHARED", password=PASSWORD)
    policy = LockoutPolicy(max_failures=3)
    a, b = (
        StationAuthenticator(session_factory=session_factory, allow_unknown=False, failures=s)
        for s in stores(redis, prefix, Clock(), policy)
    )
    for n in range(3):  # an attacker guessing on instance A from three addresses
        guess = await a.check("CS-SHARED", header("CS-SHARED", f"guess-{n}"), f"10.9.9.{n}")
        assert (guess.ok, guess.retry_after_s) == (False, 0)
    checks = b.argon2_checks
    on_b = await b.check("CS-SHARED", header("CS-SHARED", PASSWORD), "10.0.0.1")
    assert not on_b.ok
    assert on_b.retry_after_s > 0  # B never verified this password: locked, 429
    assert b.argon2_checks == checks  # and no argon2 spent on it


def header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def handshake_status(server: LiveServer, station_id: str, password: str) -> int:
    with pytest.raises(InvalidStatus) as refused:
        async with raw_socket(server, station_id, password=password):
            pass
    return refused.value.response.status_code


@pytest.mark.e2e
async def test_two_instances_on_one_redis_share_the_handshake_lockout(
    settings: Settings, engine: AsyncEngine, session_factory: SessionFactory, prefix: str
) -> None:
    from app.main import create_app

    await make_station(session_factory, station_id="CS-TWO", password=PASSWORD)
    shared = settings.model_copy(
        update={"redis_url": REDIS_URL, "redis_key_prefix": prefix, "ocpp_auth_max_failures": 4}
    )
    async with serve(create_app(shared)) as a, serve(create_app(shared)) as b:
        guesses = [
            await handshake_status((a, b)[n % 2], "CS-TWO", f"wrong-password-{n:04d}")
            for n in range(4)
        ]
        assert guesses == [401, 401, 401, 401]  # two on each: neither alone would lock
        assert await handshake_status(a, "CS-TWO", PASSWORD) == 429
        assert await handshake_status(b, "CS-TWO", PASSWORD) == 429


async def test_an_unreachable_redis_fails_open_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nothing listens on the port: every station may still try (argon2 still guards each
    password) rather than none connecting at all, and each miss is logged."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again before the store dials it
    down = Redis.from_url(f"redis://127.0.0.1:{port}/0", socket_connect_timeout=1)
    store = RedisFailureStore(down, LockoutPolicy(max_failures=1), clock=Clock())
    try:
        assert await store.record_failure("addr:10.9.9.9") == 0
        assert await store.retry_after("addr:10.9.9.9") == 0
        await store.forgive("addr:10.9.9.9")
    finally:
        await store.close()
    warnings = [r.getMessage() for r in caplog.records if r.name == "app.ocpp.limits"]
    assert len(warnings) == 3
    assert all("Redis unavailable" in message for message in warnings)
