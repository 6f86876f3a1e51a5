"""Leader election on a PostgreSQL advisory lock: one leader, singletons stopped the moment
its connection is lost, a follower taking over; without election the instance always leads."""

import asyncio
import os
import socket
import uuid
from types import TracebackType
from typing import Self

import httpx
import pytest
import sqlalchemy as sa
from starlette.applications import Starlette

from app.db.engine import create_engine
from app.services.leadership import Leadership, lock_key


class Singleton:
    """Counts its terms; `running` while entered."""

    def __init__(self) -> None:
        self.entered = 0
        self.exited = 0

    @property
    def running(self) -> bool:
        return self.entered > self.exited

    async def __aenter__(self) -> Self:
        self.entered += 1
        return self

    async def __aexit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.exited += 1


def leadership(url: str, name: str, task: Singleton, key: int, poll_s: float) -> Leadership:
    return Leadership(
        database_url=url, instance_id=name, elect=True, poll_interval_s=poll_s,
        singletons=[lambda: task], key=key,
    )  # fmt: skip


async def until_leader(candidate: Leadership) -> None:
    async with asyncio.timeout(15):
        while not candidate.is_leader:
            await candidate.changed.wait()


async def test_without_election_the_instance_leads_from_the_start(database_url: str) -> None:
    task = Singleton()
    alone = Leadership(
        database_url=database_url, instance_id="solo", elect=False, poll_interval_s=1.0,
        singletons=[lambda: task],
    )  # fmt: skip
    async with alone:
        assert alone.is_leader
        assert task.running
    assert (task.entered, task.exited) == (1, 1)


async def test_one_leads_and_a_follower_takes_over_when_its_connection_dies(pg_url: str) -> None:
    key = lock_key(f"test-{uuid.uuid4()}")
    first_task, second_task = Singleton(), Singleton()
    # The follower polls faster, so it is first to see the free lock (the old leader tries
    # again only after noticing its loss).
    first = leadership(pg_url, "first", first_task, key, poll_s=0.4)
    second = leadership(pg_url, "second", second_task, key, poll_s=0.1)
    admin = create_engine(pg_url)
    try:
        async with first, second:
            assert (first.is_leader, second.is_leader) == (True, False)
            assert (first_task.running, second_task.running) == (True, False)
            async with admin.connect() as connection:
                await connection.execute(
                    sa.text(
                        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = "
                        "'advisory' AND granted AND objid = :low"
                    ),
                    {"low": key & 0xFFFFFFFF},
                )
                await connection.commit()
            await until_leader(second)
            async with asyncio.timeout(15):
                while first.is_leader:
                    await first.changed.wait()
            assert not first_task.running  # stopped at the loss, not restarted
            assert second_task.running
            assert (first.terms, second.terms) == (1, 1)
    finally:
        await admin.dispose()
    assert not second_task.running


async def test_a_leader_that_shuts_down_hands_over_at_once(pg_url: str) -> None:
    key = lock_key(f"test-{uuid.uuid4()}")
    first_task, second_task = Singleton(), Singleton()
    second = leadership(pg_url, "second", second_task, key, poll_s=0.1)
    async with leadership(pg_url, "first", first_task, key, poll_s=0.1) as first:
        await second.__aenter__()
        assert (first.is_leader, second.is_leader) == (True, False)
    try:
        assert not first_task.running
        await until_leader(second)
        assert second_task.running
    finally:
        await second.__aexit__(None, None, None)


@pytest.fixture
def pg_url(database_url: str) -> str:
    if database_url.startswith("sqlite"):
        pytest.skip("advisory locks are PostgreSQL's: run with DATABASE_URL=postgresql+asyncpg://")
    return database_url


async def test_a_single_instance_says_it_leads_in_readyz_and_metrics(app: Starlette) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        ready = (await http.get("/readyz")).json()
        metrics = (await http.get("/metrics")).text
    assert ready["leader"] is True
    assert ready["instance_id"] == f"{socket.gethostname()}:{os.getpid()}"  # the default
    assert "chargenet_leader 1.0" in metrics.splitlines()
