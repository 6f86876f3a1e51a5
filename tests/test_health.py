"""/healthz says the process is up; /readyz whether the database answers."""

import httpx
from starlette.applications import Starlette

from app.main import create_app
from app.settings import Settings
from tests.conftest import running


async def test_healthz_and_readyz_answer_ok_when_the_database_is_up(app: Starlette) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        health = await client.get("/healthz")
        ready = await client.get("/readyz")
    assert (health.status_code, health.text) == (200, "ok")
    assert ready.status_code == 200
    body = ready.json()
    assert {k: body[k] for k in ("status", "database", "stations_connected", "leader")} == {
        "status": "ok",
        "database": "ok",
        "stations_connected": 0,
        "leader": True,  # one instance, no election: it leads
    }


async def test_readyz_is_503_when_the_database_is_unreachable() -> None:
    # A PostgreSQL URL on a loopback port nothing listens on: the app starts, the database
    # does not answer.
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url="postgresql+asyncpg://postgres@127.0.0.1:9/none",
    )
    app = create_app(settings)
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            health = await client.get("/healthz")
            ready = await client.get("/readyz")
    assert health.status_code == 200
    assert ready.status_code == 503
    assert ready.json() == {"status": "unavailable", "database": "unreachable"}
