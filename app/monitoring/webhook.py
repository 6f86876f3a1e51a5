"""Alert webhook: every alert event POSTed to the operator's URL, signed with HMAC-SHA256,
retried with exponential backoff. Owned by the lifespan; off without ALERT_WEBHOOK_URL."""

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import time
from types import TracebackType
from typing import Any, Self

import httpx

from app.events import EventBus
from app.services.alerts import ALERTS_TOPIC
from app.settings import Settings

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Chargenet-Signature"
MAX_IN_FLIGHT = 100  # deliveries retrying at once; past it the oldest event waits its turn


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the receiver recomputes it with
    the shared secret and rejects old timestamps (replays), as Stripe's webhooks do."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


class AlertWebhook:
    """Subscribes to the alert events and delivers each one (at least once while running)."""

    def __init__(
        self,
        *,
        url: str,
        secret: str,
        bus: EventBus,
        max_attempts: int,
        backoff_s: float,
        timeout_s: float = 10.0,
    ) -> None:
        self.url = url
        self._secret = secret
        self._bus = bus
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._client = httpx.AsyncClient(timeout=timeout_s)
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._tasks: set[asyncio.Task[None]] = set()
        self._listener: asyncio.Task[None] | None = None
        self.delivered = 0
        self.failed = 0

    @classmethod
    def from_settings(cls, settings: Settings, bus: EventBus) -> "AlertWebhook | None":
        if not settings.alert_webhook_url or settings.alert_webhook_secret is None:
            return None
        return cls(
            url=settings.alert_webhook_url,
            secret=settings.alert_webhook_secret.get_secret_value(),
            bus=bus,
            max_attempts=settings.alert_webhook_max_attempts,
            backoff_s=settings.alert_webhook_backoff_s,
        )

    async def deliver(self, event: dict[str, Any]) -> bool:
        """POST one event until a 2xx answer or `max_attempts`; backoff doubles each time."""
        body = json.dumps(event, separators=(",", ":"), sort_keys=True).encode()
        for attempt in range(1, self._max_attempts + 1):
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(self._secret, int(time.time()), body),
            }
            try:
                response = await self._client.post(self.url, content=body, headers=headers)
                if response.is_success:
                    self.delivered += 1
                    return True
                reason = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                reason = repr(exc)
            log.warning(
                "alert webhook attempt %d/%d failed: %s", attempt, self._max_attempts, reason
            )
            if attempt < self._max_attempts:
                await asyncio.sleep(self._backoff_s * 2 ** (attempt - 1))
        self.failed += 1
        log.error("alert webhook gave up on %s after %d attempts", event, self._max_attempts)
        return False

    async def _delivery(self, event: dict[str, Any]) -> None:
        try:
            await self.deliver(event)
        finally:
            self._slots.release()

    async def _listen(self) -> None:
        async with self._bus.subscribe(ALERTS_TOPIC) as subscription:
            async for _, event in subscription:
                await self._slots.acquire()
                task = asyncio.create_task(self._delivery(event), name="alert-webhook")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def __aenter__(self) -> Self:
        self._listener = asyncio.create_task(self._listen(), name="alert-webhook-listener")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for task in [self._listener, *self._tasks]:
            if task is not None:
                task.cancel()
        for task in [self._listener, *self._tasks]:
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._client.aclose()
