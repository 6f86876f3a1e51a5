"""`POST /stripe/webhook`: verify Stripe's signature, then apply the event once."""

import json
import logging

import stripe
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from app.db.engine import SessionFactory
from app.services import payments_webhooks
from app.settings import Settings

log = logging.getLogger(__name__)


def webhook_route(*, settings: Settings, session_factory: SessionFactory) -> Route:
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
        return JSONResponse({"received": True, "applied": applied})

    return Route("/stripe/webhook", receive, methods=["POST"])
