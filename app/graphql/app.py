"""create_graphql_app: the ASGI app serving /graphql over HTTP and both WebSocket protocols."""

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL

from app.db.engine import SessionFactory
from app.events import EventBus
from app.graphql.context import Context
from app.graphql.loaders import Loaders
from app.graphql.schema import schema
from app.services.ports import StationCommander
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

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        return Context(
            request=request,
            response=response,
            settings=self.settings,
            session_factory=self.session_factory,
            bus=self.bus,
            commander=self.commander,
            loaders=Loaders(self.session_factory),
        )


def create_graphql_app(
    *,
    settings: Settings,
    session_factory: SessionFactory,
    bus: EventBus,
    commander: StationCommander,
) -> ChargenetGraphQL:
    return ChargenetGraphQL(
        settings=settings, session_factory=session_factory, bus=bus, commander=commander
    )
