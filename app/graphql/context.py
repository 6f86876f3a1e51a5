"""The per-request GraphQL context: a session factory, the event bus and fresh DataLoaders."""

from dataclasses import dataclass, field
from typing import Any, TypeAlias

import strawberry
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from app.db.engine import SessionFactory
from app.domain.errors import Unauthenticated
from app.events import EventBus
from app.graphql.loaders import Loaders
from app.services.auth import Authenticator, Principal, TokenService
from app.services.command_runner import CommandRunner
from app.services.ports import PaymentGateway, StationCommander
from app.services.rate_limits import RateLimiter
from app.settings import Settings


@dataclass
class Context:
    """What every resolver sees as `info.context`.

    It holds a session *factory*: sibling fields resolve concurrently, so each database read
    opens its own short session. `loaders` are replaced at the start of every operation
    (a WebSocket connection keeps one context for all its operations).
    """

    request: Request | WebSocket
    response: Response | WebSocket | None
    settings: Settings
    session_factory: SessionFactory
    bus: EventBus
    commander: StationCommander
    loaders: Loaders
    tokens: TokenService
    commands: CommandRunner
    principal: Principal | None = None
    auth_error: Unauthenticated | None = None
    """Why the credentials presented were refused; permission checks raise it."""
    payments: PaymentGateway | None = None
    """The payment gateway; None when Stripe is not configured (no holds, no saved methods)."""
    connection_params: Any = field(default=None)
    rate_limiter: RateLimiter | None = None
    """Per-IP and per-principal token buckets; None = no rate limit (see RateLimit)."""

    authenticator: Authenticator | None = None
    """Credentials → principal (tokens, external IdP, API keys); None = our tokens only."""

    async def authenticate(self, authorization: str | None, api_key: str | None = None) -> None:
        """Set `principal` from an `Authorization` value ("Bearer <token>" or "Bearer ck_...")
        or an `X-Api-Key` value, or set `auth_error` saying why they were refused."""
        try:
            if self.authenticator is None:
                self.principal = self.tokens.from_authorization_header(authorization)
            else:
                self.principal = await self.authenticator.authenticate(authorization, api_key)
            self.auth_error = None
        except Unauthenticated as exc:
            self.principal, self.auth_error = None, exc


Info: TypeAlias = strawberry.Info[Context, None]
