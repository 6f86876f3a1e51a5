"""Fixtures of the multi-instance suite: PostgreSQL (skipped on SQLite), Redis, a key prefix.

Starting a process costs seconds, so a module shares one cluster: its fixtures are module
scoped and its tests run on the module's event loop.
"""

import os
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from pydantic import SecretStr
from redis.asyncio import Redis

from app.db.engine import SessionFactory, create_engine, create_session_factory
from app.services.auth import TokenService
from app.settings import Settings
from tests.conftest import _empty_tables
from tests.multi.cluster import cluster_env

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
JWT_SECRET = "multi-instance-test-secret-0123456789abcdef"


@pytest.fixture(scope="module")
def pg_url(database_url: str) -> str:
    if database_url.startswith("sqlite"):
        pytest.skip(
            "several instances share one PostgreSQL database (advisory-lock leader election): "
            "run with DATABASE_URL=postgresql+asyncpg://... (the `make test` PostgreSQL pass)"
        )
    return database_url


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def redis_prefix() -> AsyncIterator[str]:
    """A key and channel namespace of this module alone; its keys are deleted afterwards."""
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    yield prefix
    redis = Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        keys = [key async for key in redis.scan_iter(match=prefix + "*", count=1000)]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL, decode_responses=True)
    yield client
    await client.aclose()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def db(pg_url: str) -> AsyncIterator[SessionFactory]:
    """The cluster's database, emptied once before the module's cluster starts."""
    engine = create_engine(pg_url)
    await _empty_tables(engine)
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture(scope="module")
def env(pg_url: str, redis_prefix: str) -> dict[str, str]:
    return cluster_env(
        database_url=pg_url,
        redis_url=REDIS_URL,
        prefix=redis_prefix,
        AUTH_JWT_SECRET=JWT_SECRET,
        OCPP_CALL_TIMEOUT_S="5",
    )


@pytest.fixture(scope="module")
def tokens(pg_url: str) -> TokenService:
    """Issues tokens every instance accepts (they share AUTH_JWT_SECRET)."""
    return TokenService(
        Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=pg_url,
            auth_jwt_secret=SecretStr(JWT_SECRET),
        )
    )
