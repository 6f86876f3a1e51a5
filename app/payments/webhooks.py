"""`POST /stripe/webhook`: verify Stripe's signature, then apply the event once."""

import json
import logging
from collections.abc import Awaitable, Callable

import stripe
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.db.engine import SessionFactory
from app.services import payments_webhooks
from app.settings import Settings

log = logging.getLogger(__name__)

CAPTURABLE = "payment_intent.amount_capturable_updated"


def webhook_route(
    *,
    settings: Settings,
    session_factory: SessionFactory,
    on_authorised: Callable[[str], Awaitable[object]] | None = None,
) -> Route:
    """`on_authorised(intent_id)` runs after a new `amount_capturable_updated` event is
    applied: a guest's (ad hoc) hold is in place, so its charger can start."""
    secret = settings.stripe_webhook_secret

    async def receive(request: Request) -> JSONResponse:
        payload = await request.body()
        signature = request.headers.get("stripe-signature")
        if secret is None:
            log.error("a Stripe webhook arrived but STRIPE_WEBHOOK_SECRET is not set")
            return JSONResponse({"error": "webhooks are not configured"}, status_code=400)
        try:
            event = stripe.Webhook.construct_event(
                payload.decode("utf-8"), signature, secret.get_secret_value()
            )
        except (ValueError, UnicodeDecodeError, stripe.SignatureVerificationError) as exc:
            log.warning("Stripe webhook refused: %s", exc)
            return JSONResponse({"error": "invalid signature or payload"}, status_code=400)
        # The verified payload as plain JSON: handlers read dicts, not SDK objects.
        body = json.loads(payload)
        applied = await payments_webhooks.apply_event(
            session_factory=session_factory,
            event_id=str(event.id),
            event_type=str(event.type),
            data=dict(body.get("data", {}).get("object") or {}),
        )
        intent_id = body.get("data", {}).get("object", {}).get("id")
        if applied and on_authorised is not None and event.type == CAPTURABLE and intent_id:
            try:
                await on_authorised(str(intent_id))
            except Exception:  # the event is recorded; the guest's confirm can still start it
                log.exception("starting the charger for intent %s failed", intent_id)
        return JSONResponse({"received": True, "applied": applied})

    return Route("/stripe/webhook", receive, methods=["POST"])
