"""A leader that stops answering without dying (a frozen process, a paused VM, a dead host: its
TCP connection stays open) loses the lock within seconds, and learns it when it wakes."""

import signal
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
import pytest_asyncio

from app.db.engine import SessionFactory
from tests.multi.cluster import Instance, cluster

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def nodes(
    env: dict[str, str], db: SessionFactory
) -> AsyncIterator[Callable[[str], Instance]]:
    async with cluster(("P", "Q"), env, one_by_one=True) as node:  # P starts first: it leads
        yield node


async def leader_flags(*instances: Instance) -> list[bool]:
    async with httpx.AsyncClient(timeout=10) as http:
        return [(await http.get(f"{i.http_url}/readyz")).json()["leader"] for i in instances]


async def test_a_frozen_leader_is_replaced_and_steps_down_when_it_wakes(
    nodes: Callable[[str], Instance],
) -> None:
    p, q = nodes("P"), nodes("Q")
    assert await leader_flags(p, q) == [True, False]
    mark_p, mark_q = len(p.lines), len(q.lines)
    p.process.send_signal(signal.SIGSTOP)  # alive, socket open, silent: PostgreSQL must notice
    try:
        await q.wait_for_line("instance Q is the leader", after=mark_q, timeout_s=60)
    finally:
        p.process.send_signal(signal.SIGCONT)
    await p.wait_for_line("lost its leader lock connection", after=mark_p, timeout_s=30)
    assert await leader_flags(p, q) == [False, True]  # one leader, never two once P checked
