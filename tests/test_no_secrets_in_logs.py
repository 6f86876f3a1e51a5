"""No secret reaches a log: a full flow with every logger at DEBUG, then every record searched.

The flow: sign up, a wrong password, log in, refresh, an API call with the bearer token, a card
saved through Stripe (localstripe), a Stripe webhook with its signature, an operator logging in,
a station connecting with its password (and one with a wrong password).
"""

import base64
import json
import logging
import uuid
from typing import Any

import httpx
import pytest
import websockets
from pydantic import SecretStr

from app.db.engine import SessionFactory
from app.monitoring.log_redaction import redact
from app.settings import Settings
from tests.access_builders import PASSWORD as OPERATOR_PASSWORD
from tests.access_builders import make_operator_user
from tests.conftest import LiveServer
from tests.factories import make_station
from tests.ocpp.clients import boot16, charger, raw_socket
from tests.payments.harness import (
    SECRET_KEY,
    WEBHOOK_SECRET,
    LocalStripe,
    localstripe,
    localstripe_url,
    signed_event,
    with_payments,
)

__all__ = ["localstripe", "localstripe_url"]

pytestmark = pytest.mark.e2e

JWT_SECRET = f"jwt-{uuid.uuid4().hex}"
DRIVER_PASSWORD = f"driver-pw-{uuid.uuid4().hex[:12]}"
WRONG_PASSWORD = f"wrong-pw-{uuid.uuid4().hex[:12]}"
STATION_PASSWORD = f"station-pw-{uuid.uuid4().hex[:12]}"
ALERT_SECRET = f"alert-{uuid.uuid4().hex}"
# The test's own WebSocket client logs the headers it sends; that is not the server's log.
CLIENT_SIDE_LOGGERS = ("websockets.client",)

AUTH = "... on AuthPayload { accessToken refreshToken }"
SIGN_UP = f"""mutation ($input: SignUpInput!) {{ signUp(input: $input) {{ __typename {AUTH} }} }}"""
LOG_IN = f"""mutation ($input: LogInInput!) {{ logIn(input: $input) {{ __typename {AUTH} }} }}"""
REFRESH = f"""mutation ($t: String!) {{ refreshTokens(input: {{refreshToken: $t}}) {{
  __typename {AUTH} }} }}"""
ADD_CARD = """mutation { addPaymentMethod { __typename
  ... on PaymentMethodSetup { setupIntentId clientSecret } } }"""
OPERATOR_LOG_IN = """mutation ($input: LogInInput!) { operatorLogIn(input: $input) {
  __typename ... on OperatorAuthPayload { accessToken } } }"""


@pytest.fixture
def settings(settings: Settings, localstripe_url: str) -> Settings:
    return with_payments(
        settings,
        localstripe_url,
        auth_jwt_secret=SecretStr(JWT_SECRET),
        alert_webhook_secret=SecretStr(ALERT_SECRET),
    )


def test_settings_repr_masks_every_secret(settings: Settings) -> None:
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    for secret in (JWT_SECRET, SECRET_KEY, WEBHOOK_SECRET, ALERT_SECRET):
        assert secret not in shown


def everything_logged(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str]]:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return [
        (record.name, formatter.format(record))
        for record in caplog.records
        if not record.name.startswith(CLIENT_SIDE_LOGGERS)
    ]


async def test_a_full_flow_logs_no_secret(
    live_server: LiveServer,
    session_factory: SessionFactory,
    localstripe: LocalStripe,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "ocpp", "sqlalchemy.engine"):
        logger = logging.getLogger(name)
        monkeypatch.setattr(logger, "propagate", True)
        monkeypatch.setattr(logger, "level", logging.DEBUG)
    secrets: dict[str, str] = {
        "driver password": DRIVER_PASSWORD,
        "wrong password": WRONG_PASSWORD,
        "station password": STATION_PASSWORD,
        "STRIPE_SECRET_KEY": SECRET_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "AUTH_JWT_SECRET": JWT_SECRET,
        "operator password": OPERATOR_PASSWORD,
    }

    async with httpx.AsyncClient(base_url=live_server.http_url, timeout=20) as http:

        async def call(query: str, token: str | None = None, **variables: Any) -> Any:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = await http.post(
                "/graphql", json={"query": query, "variables": variables}, headers=headers
            )
            assert response.status_code == 200, response.text
            body = response.json()
            assert "errors" not in body, body
            return body["data"]

        signed_up = (
            await call(
                SIGN_UP,
                input={"email": "ada@example.org", "password": DRIVER_PASSWORD, "name": "Ada"},
            )
        )["signUp"]
        refused = (
            await call(LOG_IN, input={"email": "ada@example.org", "password": WRONG_PASSWORD})
        )["logIn"]
        assert refused["__typename"] == "InvalidCredentials"
        logged_in = (
            await call(LOG_IN, input={"email": "ada@example.org", "password": DRIVER_PASSWORD})
        )["logIn"]
        refreshed = (await call(REFRESH, t=logged_in["refreshToken"]))["refreshTokens"]
        for n, tokens in enumerate((signed_up, logged_in, refreshed)):
            secrets[f"access token {n}"] = tokens["accessToken"]
            secrets[f"refresh token {n}"] = tokens["refreshToken"]
        access = refreshed["accessToken"]
        assert (await call("{ me { email } }", access))["me"] == {"email": "ada@example.org"}

        setup = (await call(ADD_CARD, access))["addPaymentMethod"]
        secrets["SetupIntent client secret"] = setup["clientSecret"]
        await localstripe.confirm_setup(setup["setupIntentId"], "pm_card_visa")

        body, signature = signed_event(
            "setup_intent.succeeded", {"id": setup["setupIntentId"]}, event_id="evt_logs"
        )
        secrets["Stripe-Signature"] = signature.split("v1=")[1]
        webhook = await http.post(
            "/stripe/webhook", content=body, headers={"stripe-signature": signature}
        )
        assert webhook.status_code < 500

        user = await make_operator_user(session_factory)
        operator = (
            await call(OPERATOR_LOG_IN, input={"email": user.email, "password": OPERATOR_PASSWORD})
        )["operatorLogIn"]
        secrets["operator access token"] = operator["accessToken"]

    station = await make_station(session_factory, password=STATION_PASSWORD)
    basic = base64.b64encode(f"{station.id}:{STATION_PASSWORD}".encode()).decode()
    secrets["station Basic credentials"] = basic
    async with charger(live_server, station.id, password=STATION_PASSWORD) as charge_point:
        await boot16(charge_point)
    with pytest.raises(websockets.InvalidStatus, match="HTTP 401"):
        async with raw_socket(live_server, station.id, password=WRONG_PASSWORD):
            pass

    logged = everything_logged(caplog)
    names = {name for name, _ in logged}
    # The search must have something to search: the server's, uvicorn's and the ocpp logs.
    assert any(name.startswith("uvicorn") for name in names), names
    assert any(name.startswith("app.") for name in names), names
    leaks = [
        (what, name, text[:200])
        for what, secret in secrets.items()
        for name, text in logged
        if secret in text
    ]
    assert not leaks, json.dumps(leaks, indent=1)


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("< authorization: Basic Q1M6cHc=", "< authorization: [redacted]"),
        ("< Authorization: Bearer eyJ.x.y", "< Authorization: [redacted]"),
        ("< x-api-key: ck_live_123", "< x-api-key: [redacted]"),
        ("< host: 127.0.0.1:8000", "< host: 127.0.0.1:8000"),
    ],
    ids=["basic", "bearer", "api-key", "harmless"],
)
def test_credential_headers_are_redacted_and_others_kept(line: str, shown: str) -> None:
    assert redact(line) == shown
