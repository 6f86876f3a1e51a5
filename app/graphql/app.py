"""create_graphql_app: the ASGI app serving /graphql over HTTP and both WebSocket protocols."""

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL
from strawberry.types.unset import UnsetType

from app.db.engine import SessionFactory
from app.events import EventBus
from app.graphql.context import Context
from app.graphql.loaders import Loaders
from app.graphql.schema import schema
from app.services.auth import TokenService
from app.services.command_runner import CommandRunner
from app.services.ports import PaymentGateway, StationCommander
from app.settings import Settings


class ChargenetGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view with chargenet's context."""

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
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphql_explorer else None,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL),
            # Browsers may open WebSockets from any page; only these origins (and same-origin
            # pages and non-browser clients, which send no Origin) may subscribe.
            allowed_origins=tuple(settings.graphql_allowed_origins),
        )
        self.settings = settings
        self.session_factory = session_factory
        self.bus = bus
        self.commander = commander
        self.tokens = tokens
        self.commands = commands
        self.payments = payments

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
        )
        if isinstance(request, Request):
            context.authenticate(request.headers.get("authorization"))
        return context

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Authenticate a WebSocket in `connection_init`: `{"Authorization": "Bearer ..."}`.

        No credentials: the connection stays anonymous (public subscriptions work). Credentials
        that do not verify: the connection is refused, so an app learns at once that it must
        log in again instead of subscribing into silence.
        """
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        value = params.get("Authorization") or params.get("authorization")
        context.authenticate(value if isinstance(value, str) else None)
        if context.auth_error is not None:
            raise ConnectionRejectionError({"message": str(context.auth_error)})
        return await super().on_ws_connect(context)


def create_graphql_app(
    *,
    settings: Settings,
    session_factory: SessionFactory,
    bus: EventBus,
    commander: StationCommander,
    tokens: TokenService,
    commands: CommandRunner,
    payments: PaymentGateway | None = None,
) -> ChargenetGraphQL:
    return ChargenetGraphQL(
        settings=settings,
        session_factory=session_factory,
        bus=bus,
        commander=commander,
        tokens=tokens,
        commands=commands,
        payments=payments,
    )
