"""Fixtures for OCPP handler tests that run without a WebSocket."""

from collections.abc import AsyncIterator

import pytest

from app.db.engine import SessionFactory
from app.services.group_commit import GroupCommit


@pytest.fixture(params=[False, True], ids=["alone", "group-commit"])
async def group(
    request: pytest.FixtureRequest, session_factory: SessionFactory
) -> AsyncIterator[GroupCommit | None]:
    """Each test twice: every message its own transaction, then through group commit."""
    if not request.param:
        yield None
        return
    group = GroupCommit(session_factory=session_factory)
    await group.start()
    yield group
    await group.stop()
