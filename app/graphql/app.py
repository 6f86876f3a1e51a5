"""create_graphql_app: the ASGI app serving /graphql over HTTP and both WebSocket protocols."""

import json
from datetime import timedelta

from cross_web import AsyncHTTPRequestAdapter
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types.unset import UnsetType

from app.db.engine import SessionFactory
from app.events import EventBus
from app.graphql.context import Context
from app.graphql.fanout import FanoutHub, FanoutTransportWSHandler, FanoutWSHandler
from app.graphql.loaders import Loaders
from app.graphql.schema import schema
from app.graphql.trusted_documents import load_manifest
from app.services import api_keys
from app.services.auth import Authenticator, Principal, TokenService
from app.services.command_runner import CommandRunner
from app.services.operator_idp import ExternalOperatorTokens
from app.services.ports import PaymentGateway, StationCommander
from app.services.rate_limits import RateLimiter
from app.settings import Settings

API_KEY_HEADER = "X-Api-Key"


def build_authenticator(
    settings: Settings, tokens: TokenService, session_factory: SessionFactory
) -> Authenticator:
    """Our tokens, partner API keys, and the external identity provider when configured."""

    async def verify_key(key: str) -> Principal:
        return await api_keys.verify_key(session_factory=session_factory, key=key)

    external = ExternalOperatorTokens(settings) if settings.operator_jwks_url else None
    return Authenticator(
        tokens,
        api_keys=verify_key,
        external=external.verify if external is not None else None,
        external_issuer=external.issuer if external is not None else None,
    )


class ChargenetGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view with chargenet's context; WebSocket subscriptions that adopt it
    share each event's execution with equal subscriptions (app/graphql/fanout.py)."""

    graphql_transport_ws_handler_class = FanoutTransportWSHandler
    graphql_ws_handler_class = FanoutWSHandler

    def __init__(
        self,
        *,
        settings: Settings,
        session_factory: SessionFactory,
        bus: EventBus,
        commander: StationCommander,
        tokens: TokenService,
        commands: CommandRunner,
        payments: PaymentGateway | None = None,
        rate_limiter: RateLimiter | None = None,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphql_explorer else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
            # Browsers may open WebSockets from any page; only these origins (and same-origin
            # pages and non-browser clients, which send no Origin) may subscribe.
            allowed_origins=tuple(settings.graphql_allowed_origins),
            # graphql-transport-ws: a socket that never says connection_init is closed (4408).
            connection_init_wait_timeout=timedelta(
                seconds=settings.graphql_connection_init_timeout_s
            ),
            max_subscriptions_per_connection=settings.graphql_max_subscriptions_per_connection,
        )
        if settings.graphql_trusted_documents is not None:
            load_manifest(settings.graphql_trusted_documents)  # a bad manifest fails at startup
        self.rate_limiter = rate_limiter
        self.settings = settings
        self.session_factory = session_factory
        self.bus = bus
        self.commander = commander
        self.tokens = tokens
        self.commands = commands
        self.payments = payments
        self.authenticator = build_authenticator(settings, tokens, session_factory)
        self.fanout = FanoutHub(schema)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        context = Context(
            request=request,
            response=response,
            settings=self.settings,
            session_factory=self.session_factory,
            bus=self.bus,
            commander=self.commander,
            loaders=Loaders(self.session_factory),
            tokens=self.tokens,
            commands=self.commands,
            payments=self.payments,
            authenticator=self.authenticator,
            rate_limiter=self.rate_limiter,
        )
        if isinstance(request, Request):
            await context.authenticate(
                request.headers.get("authorization"), request.headers.get(API_KEY_HEADER)
            )
        return context

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Authenticate a WebSocket in `connection_init`: `{"Authorization": "Bearer ..."}`.

        No credentials: the connection stays anonymous (public subscriptions work). Credentials
        that do not verify: the connection is refused, so an app learns at once that it must
        log in again instead of subscribing into silence.
        """
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        value = params.get("Authorization") or params.get("authorization")
        key = params.get(API_KEY_HEADER)
        await context.authenticate(
            value if isinstance(value, str) else None, key if isinstance(key, str) else None
        )
        if context.auth_error is not None:
            raise ConnectionRejectionError({"message": str(context.auth_error)})
        return await super().on_ws_connect(context)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a POST body over GRAPHQL_MAX_BODY_BYTES with 413, reading at most that much."""
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        limit = self.settings.graphql_max_body_bytes
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            await _too_large(limit)(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _too_large(limit)(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await super().__call__(scope, replay, send)

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        """A GET naming a document (trusted documents) is an operation, not a page view."""
        params = request.query_params
        named = params.get("documentId") is not None or params.get("extensions") is not None
        return not named and super().should_render_graphql_ide(request)

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        """Also accept the GraphQL-over-HTTP `documentId` (trusted documents) beside Apollo's
        `extensions.persistedQuery`: it travels to the extensions as `documentId`."""
        data = await super().parse_http_body(request)
        if isinstance(data, GraphQLRequestData) and data.query is None:
            document_id: object = None
            if request.method == "GET":
                document_id = request.query_params.get("documentId")
            else:
                raw = json.loads(await request.get_body())
                document_id = raw.get("documentId") if isinstance(raw, dict) else None
            if document_id is not None:
                data.extensions = {**(data.extensions or {}), "documentId": document_id}
        return data


def _too_large(limit: int) -> JSONResponse:
    message = f"request body is larger than the limit of {limit} bytes (GRAPHQL_MAX_BODY_BYTES)"
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": "PAYLOAD_TOO_LARGE"}}]},
        status_code=413,
    )


def create_graphql_app(
    *,
    settings: Settings,
    session_factory: SessionFactory,
    bus: EventBus,
    commander: StationCommander,
    tokens: TokenService,
    commands: CommandRunner,
    payments: PaymentGateway | None = None,
    rate_limiter: RateLimiter | None = None,
) -> ChargenetGraphQL:
    return ChargenetGraphQL(
        settings=settings,
        session_factory=session_factory,
        bus=bus,
        commander=commander,
        tokens=tokens,
        commands=commands,
        payments=payments,
        rate_limiter=rate_limiter,
    )
