"""Token buckets (in memory and in Redis) and the RATE_LIMITED error they cause in GraphQL."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from app.db.engine import SessionFactory
from app.main import create_app
from app.services.rate_limits import (
    Budget,
    InMemoryBuckets,
    RateLimiter,
    RedisBuckets,
    TokenBuckets,
)
from app.settings import Settings
from tests.conftest import running
from tests.graphql.conftest import GraphQLClient
from tests.reservation_builders import bearer, make_driver

REDIS_URL = "redis://127.0.0.1:6379/0"


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


BucketsFactory = Callable[[Clock], TokenBuckets]


@pytest.fixture(params=["memory", "redis"])
def make_buckets(request: pytest.FixtureRequest, redis: Redis) -> BucketsFactory:
    if request.param == "memory":
        return lambda clock: InMemoryBuckets(clock=clock)
    prefix = f"test:{uuid.uuid4().hex}:"  # a fresh key space per test: no shared state
    return lambda clock: RedisBuckets(redis, prefix=prefix, clock=clock)


async def test_burst_passes_and_the_next_waits_for_a_refill(make_buckets: BucketsFactory) -> None:
    clock = Clock()
    buckets = make_buckets(clock)
    granted = [await buckets.take("k", rate=2.0, burst=5) for _ in range(5)]
    assert granted == [0.0] * 5
    assert await buckets.take("k", rate=2.0, burst=5) == pytest.approx(0.5)
    assert await buckets.take("other", rate=2.0, burst=5) == 0.0  # keys are separate
    clock.now += 0.5
    assert await buckets.take("k", rate=2.0, burst=5) == 0.0
    assert await buckets.take("k", rate=2.0, burst=5) > 0


async def test_an_idle_bucket_refills_only_up_to_its_burst(make_buckets: BucketsFactory) -> None:
    clock = Clock()
    buckets = make_buckets(clock)
    await buckets.take("k", rate=1.0, burst=3)
    clock.now += 3600
    waits = [await buckets.take("k", rate=1.0, burst=3) for _ in range(4)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] == pytest.approx(1.0)


async def test_two_instances_share_one_redis_budget(redis: Redis) -> None:
    clock = Clock()
    prefix = f"test:{uuid.uuid4().hex}:"
    budget = Budget(rate_per_s=1.0, burst=4)
    instances = [
        RateLimiter(
            RedisBuckets(redis, prefix=prefix, clock=clock), per_ip=budget, per_principal=budget
        )
        for _ in range(2)
    ]
    outcomes = [await instances[i % 2].check(ip="10.0.0.1", principal=None) for i in range(5)]
    assert outcomes[:4] == [None] * 4
    assert outcomes[4] is not None
    assert outcomes[4].budget == "ip"


def test_memory_buckets_forget_full_buckets_past_their_bound() -> None:
    clock = Clock()
    buckets = InMemoryBuckets(clock=clock, max_keys=10)

    async def fill() -> None:
        for i in range(10):
            await buckets.take(f"ip{i}", rate=1.0, burst=2)
        clock.now += 5  # every bucket is full again
        await buckets.take("new", rate=1.0, burst=2)

    asyncio.run(fill())
    assert len(buckets._buckets) == 1


IP_BURST = 10
PRINCIPAL_BURST = 2


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "rate_limit_ip_per_s": 0.001,  # no refill within a test
            "rate_limit_ip_burst": IP_BURST,
            "rate_limit_principal_per_s": 0.001,
            "rate_limit_principal_burst": PRINCIPAL_BURST,
        }
    )


async def test_the_ip_burst_passes_and_the_next_request_is_429(graphql: GraphQLClient) -> None:
    for _ in range(IP_BURST):
        assert await graphql.data("{ __typename }") == {"__typename": "Query"}
    response = await graphql.http.post("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 429
    # One token takes 1000 s at 0.001/s; the refill while the burst was spent (a few ms, or
    # seconds on a loaded machine) shortens the wait, so the figure is bounded, not exact.
    retry_after = int(response.headers["retry-after"])
    assert 900 <= retry_after <= 1000
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "RATE_LIMITED", "retryAfter": retry_after}
    assert error["message"] == f"rate limit exceeded (ip budget); retry after {retry_after} s"


async def test_each_principal_has_its_own_budget(
    app: Starlette, graphql: GraphQLClient, session_factory: SessionFactory
) -> None:
    tokens = app.state.runtime.tokens
    drivers = [(await make_driver(session_factory))[0] for _ in range(2)]

    async def me(driver_id: int) -> dict[str, Any]:
        response = await graphql.http.post(
            "/graphql", json={"query": "{ __typename }"}, headers=bearer(tokens, driver_id)
        )
        body: dict[str, Any] = response.json()
        return body

    first = [await me(drivers[0]) for _ in range(PRINCIPAL_BURST + 1)]
    assert [body.get("data") for body in first[:PRINCIPAL_BURST]] == [
        {"__typename": "Query"}
    ] * PRINCIPAL_BURST
    assert first[-1]["errors"][0]["message"].startswith("rate limit exceeded (principal budget)")
    # Same address, another driver: the address still has budget, this driver has its own.
    assert (await me(drivers[1]))["data"] == {"__typename": "Query"}


async def test_instances_sharing_redis_share_the_ip_budget(
    settings: Settings, engine: AsyncEngine
) -> None:
    shared = settings.model_copy(
        update={"redis_url": REDIS_URL, "redis_key_prefix": f"test:{uuid.uuid4().hex}:"}
    )
    apps = [create_app(shared), create_app(shared)]
    async with running(apps[0]), running(apps[1]):
        clients = [
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
            for app in apps
        ]
        statuses = []
        for n in range(IP_BURST + 1):
            response = await clients[n % 2].post("/graphql", json={"query": "{ __typename }"})
            statuses.append(response.status_code)
        for client in clients:
            await client.aclose()
    assert statuses == [200] * IP_BURST + [429]
