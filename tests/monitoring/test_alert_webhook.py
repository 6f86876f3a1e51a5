"""The alert webhook against a real HTTP receiver on 127.0.0.1: signed bodies, retries with
backoff until a 2xx, giving up after the last attempt, and alerts raised in the app delivered."""

import asyncio
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.domain.enums import EvseStatus
from app.events import InProcessEventBus
from app.monitoring.webhook import SIGNATURE_HEADER, AlertWebhook
from app.services import availability
from app.settings import Settings
from tests.conftest import serve
from tests.factories import make_station

SECRET = "webhook-secret-0001"


@dataclass
class Receiver:
    url: str
    failures: int = 0  # answer 500 this many times first
    received: asyncio.Queue[tuple[bytes, str]] = field(default_factory=asyncio.Queue)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver(url="")

    async def hook(request: Request) -> Response:
        state.received.put_nowait((await request.body(), request.headers[SIGNATURE_HEADER]))
        if state.failures > 0:
            state.failures -= 1
            return Response(status_code=500)
        return Response(status_code=204)

    async with serve(Starlette(routes=[Route("/hook", hook, methods=["POST"])])) as server:
        state.url = f"{server.http_url}/hook"
        yield state


def verified(body: bytes, signature: str) -> dict[str, Any]:
    parts = dict(part.split("=", 1) for part in signature.split(","))
    expected = hmac.new(SECRET.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    assert hmac.compare_digest(parts["v1"], expected.hexdigest())
    payload: dict[str, Any] = json.loads(body)
    return payload


@pytest.mark.parametrize(
    ("failures", "delivered"), [(2, True), (3, False)], ids=["retried", "gave-up"]
)
async def test_delivery_retries_until_a_success_or_the_last_attempt(
    receiver: Receiver, failures: int, delivered: bool
) -> None:
    receiver.failures = failures
    webhook = AlertWebhook(
        url=receiver.url, secret=SECRET, bus=InProcessEventBus(), max_attempts=3, backoff_s=0.01
    )
    async with webhook:
        assert await webhook.deliver({"type": "AlertRaised", "alert_id": 7}) is delivered
    attempts = [receiver.received.get_nowait() for _ in range(receiver.received.qsize())]
    assert len(attempts) == 3
    assert [verified(*attempt) for attempt in attempts] == [
        {"type": "AlertRaised", "alert_id": 7}
    ] * 3


@pytest.fixture
def settings(database_url: str, receiver: Receiver) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        alert_webhook_url=receiver.url,
        alert_webhook_secret=SECRET,
        alert_webhook_backoff_s=0.01,
        health_check_interval_s=3600,  # no monitor pass behind the test's back
    )


async def test_an_alert_raised_in_the_app_reaches_the_webhook(
    app: Starlette, receiver: Receiver
) -> None:
    runtime = app.state.runtime
    await make_station(runtime.session_factory, station_id="WH-1")
    await availability.record_status(
        session_factory=runtime.session_factory, bus=runtime.bus, station_id="WH-1",
        ocpp_evse_id=1, status=EvseStatus.OUTOFORDER, at=datetime.now(UTC),
    )  # fmt: skip
    async with asyncio.timeout(10):
        body, signature = await receiver.received.get()
    event = verified(body, signature)
    assert (event["type"], event["code"], event["station_id"]) == ("AlertRaised", "FAULTED", "WH-1")
