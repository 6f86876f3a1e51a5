"""Test harness for payments: localstripe on 127.0.0.1, settings that point at it, and the
bridges for what localstripe lacks (each named as such).

Import the fixtures into a test module (`from tests.payments.harness import localstripe`)
or a conftest; override `settings` with `payment_settings` to give the app a gateway.
"""

import hashlib
import hmac
import json
import selectors
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe
from pydantic import SecretStr

from app.payments.gateway import StripeHttpxClient
from app.settings import Settings

LAUNCHER = Path(__file__).resolve().parent / "localstripe_server.py"
SECRET_KEY = "sk_test_chargenet"
WEBHOOK_SECRET = "whsec_chargenet_test"


@pytest.fixture(scope="session")
def localstripe_url() -> Iterator[str]:
    """One localstripe process per test run, on a free loopback port."""
    process = subprocess.Popen(  # noqa: S603  (our own launcher, no input from outside)
        [sys.executable, str(LAUNCHER)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    try:
        if not selector.select(timeout=20):
            raise RuntimeError("localstripe did not print its port within 20 s")
        port = int(process.stdout.readline())
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:  # the port is bound before aiohttp serves: wait until it answers
            try:
                httpx.delete(f"{url}/_config/data", timeout=1).raise_for_status()
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        selector.close()
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


@dataclass
class LocalStripe:
    """localstripe, emptied for this test, and a Stripe client for what the phone would do."""

    url: str
    client: stripe.StripeClient

    async def confirm_setup(self, setup_intent_id: str, payment_method: str) -> str:
        """What Stripe's mobile SDK does with the client secret: confirm with a card.
        Bridge: localstripe does not attach the card to the SetupIntent's customer (Stripe
        does), so the test attaches it. Answers the saved PaymentMethod's id."""
        intent = await self.client.v1.setup_intents.confirm_async(
            setup_intent_id, params={"payment_method": payment_method}
        )
        assert intent.payment_method is not None
        assert intent.customer is not None
        method_id = str(intent.payment_method)
        await self.client.v1.payment_methods.attach_async(
            method_id, params={"customer": str(intent.customer)}
        )
        return method_id

    async def confirm_guest_card(self, intent_id: str, payment_method: str) -> Any:
        """What Stripe.js does on a guest's checkout page: confirm the intent with a card.
        Bridge: localstripe cannot confirm with a `payment_method` ("Not implemented"), so the
        card is set on the intent first, then the intent is confirmed."""
        await self.client.v1.payment_intents.update_async(
            intent_id, params={"payment_method": payment_method}
        )
        return await self.client.v1.payment_intents.confirm_async(intent_id)

    async def intent(self, intent_id: str) -> Any:
        return await self.client.v1.payment_intents.retrieve_async(
            intent_id, params={"expand": ["latest_charge"]}
        )

    async def intents(self) -> list[Any]:
        listed = await self.client.v1.payment_intents.list_async()
        return list(listed.data)


@pytest.fixture
async def localstripe(localstripe_url: str) -> Iterator[LocalStripe]:  # type: ignore[misc]
    async with httpx.AsyncClient() as http:
        (await http.delete(f"{localstripe_url}/_config/data")).raise_for_status()
    http_client = StripeHttpxClient(timeout=10)
    client = stripe.StripeClient(
        SECRET_KEY, base_addresses={"api": localstripe_url}, http_client=http_client
    )
    yield LocalStripe(localstripe_url, client)
    await http_client.close_async()  # type: ignore[no-untyped-call]


def with_payments(settings: Settings, api_base: str, **overrides: Any) -> Settings:
    """`settings` with Stripe pointed at `api_base`; the reconciler only runs when told."""
    values: dict[str, Any] = {
        "stripe_secret_key": SecretStr(SECRET_KEY),
        "stripe_webhook_secret": SecretStr(WEBHOOK_SECRET),
        "stripe_api_base": api_base,
        "stripe_timeout_s": 2.0,
        "stripe_max_network_retries": 2,
        "payment_reconcile_interval_s": 3600.0,
    }
    values.update(overrides)
    return settings.model_copy(update=values)


def signed_event(event_type: str, data: dict[str, Any], *, event_id: str) -> tuple[bytes, str]:
    """A webhook body and its Stripe-Signature header, as Stripe (and localstripe) sign them."""
    created = int(time.time())
    body = json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": event_type,
            "created": created,
            "api_version": "2017-08-15",
            "data": {"object": data},
        }
    ).encode()
    digest = hmac.new(
        WEBHOOK_SECRET.encode(), b"%d.%s" % (created, body), hashlib.sha256
    ).hexdigest()
    return body, f"t={created},v1={digest}"
