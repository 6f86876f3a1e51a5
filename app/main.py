"""create_app(settings): the one ASGI app with every door, its wiring and its lifespan."""

import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

import prometheus_client
import sqlalchemy as sa
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import BaseRoute, Route, WebSocketRoute

from app.db.engine import SessionFactory, create_engine, create_session_factory
from app.events import EventBus, create_event_bus
from app.graphql.app import create_graphql_app
from app.graphql.schema import ActiveSubscriptions
from app.loadmgmt.scheduler import LoadScheduler
from app.monitoring.health import HealthMonitor
from app.monitoring.log_redaction import install_log_redaction
from app.monitoring.metrics import Metrics
from app.monitoring.webhook import AlertWebhook
from app.ocpp.distributed import create_registry, default_instance_id
from app.ocpp.endpoint import OcppServer
from app.ocpp.limits import create_failure_store
from app.ocpp.registry import StationRegistry
from app.payments.gateway import StripeGateway
from app.payments.reconciler import PaymentReconciler
from app.payments.webhooks import webhook_route
from app.services.adhoc_payments import start_if_authorised
from app.services.auth import TokenService
from app.services.command_runner import CommandRunner
from app.services.command_sweep import CommandSweeper
from app.services.leadership import Leadership, Singleton
from app.services.rate_limits import RateLimiter
from app.services.reservation_lifecycle import ReservationExpiry
from app.services.retention import RetentionPurger
from app.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """What the running app holds: reachable from tests as `app.state.runtime`."""

    settings: Settings
    engine: AsyncEngine
    session_factory: SessionFactory
    bus: EventBus
    registry: StationRegistry
    ocpp: OcppServer
    tokens: TokenService
    commands: CommandRunner
    payments: StripeGateway | None = None
    reconciler: PaymentReconciler | None = None
    leadership: Leadership | None = None


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    install_log_redaction()  # before anything can log a credential header or SDK body
    engine = create_engine(settings.database_url, echo=settings.database_echo)
    session_factory = create_session_factory(engine)
    instance_id = settings.instance_id or default_instance_id()
    bus = create_event_bus(settings.redis_url, key_prefix=settings.redis_key_prefix)
    # With REDIS_URL: records in Redis which instance holds each station, forwards commands.
    registry = create_registry(
        bus=bus, redis_url=settings.redis_url, instance_id=instance_id,
        key_prefix=settings.redis_key_prefix, call_timeout_s=settings.ocpp_call_timeout_s,
        ttl_s=settings.cluster_station_ttl_s, refresh_s=settings.cluster_refresh_interval_s,
    )  # fmt: skip
    # Failed-handshake lockout: in Redis with REDIS_URL, so a guess on any instance counts.
    lockout = create_failure_store(settings)
    ocpp = OcppServer(
        settings=settings,
        session_factory=session_factory,
        bus=bus,
        registry=registry,
        failures=lockout,
    )
    tokens = TokenService(settings)
    commands = CommandRunner()  # owns the tasks that follow remote commands to their outcome
    # On SQLite the monitor's writes take turns with the OCPP group commit and message log.
    health = HealthMonitor(
        settings=settings, session_factory=session_factory, bus=bus,
        write_turn=ocpp.group.write_turn,
    )  # fmt: skip
    metrics = Metrics(
        session_factory=session_factory,
        stations_connected=lambda: len(registry),
        active_subscriptions=lambda: ActiveSubscriptions.active,
        message_log=ocpp.message_log,
    )
    ocpp.message_log.observers.append(metrics.observe_frame)
    ocpp_refused = Counter(
        "chargenet_ocpp_refused",
        "OCPP handshakes and messages refused by a limit, by reason (lockout, rate_limit).",
        ["reason"],
        registry=metrics.registry,
    )
    ocpp.refusal_observers.append(lambda reason: ocpp_refused.labels(reason).inc())
    payments = StripeGateway(settings) if settings.stripe_secret_key else None
    rate_limiter = RateLimiter.from_settings(settings)
    graphql_app = create_graphql_app(
        settings=settings,
        session_factory=session_factory,
        bus=bus,
        commander=registry,
        tokens=tokens,
        commands=commands,
        payments=payments,
        rate_limiter=rate_limiter,
    )

    reconciler = (
        PaymentReconciler(
            session_factory=session_factory,
            gateway=payments,
            interval_s=settings.payment_reconcile_interval_s,
        )
        if payments is not None
        else None
    )
    # Singletons: run on one instance only, the leader (always this one without election).
    expiry = ReservationExpiry(session_factory=session_factory, commander=registry)
    singletons: list[Singleton] = [
        lambda: expiry,
        lambda: health,
        lambda: AlertWebhook.from_settings(settings, bus) or contextlib.nullcontext(),
        lambda: reconciler or contextlib.nullcontext(),
        lambda: LoadScheduler.wire(settings, session_factory, bus, registry),
        lambda: CommandSweeper(  # commands left live by an instance that died or restarted
            session_factory=session_factory,
            bus=bus,
            follower_deadline_s=settings.ocpp_call_timeout_s + settings.remote_command_window_s,
            operation_deadline_s=settings.ocpp_call_timeout_s + settings.remote_operation_window_s,
            firmware_deadline_s=settings.ocpp_call_timeout_s + settings.firmware_update_window_s,
            grace=timedelta(seconds=settings.command_sweep_grace_s),
            interval_s=settings.command_sweep_interval_s,
        ),
        lambda: RetentionPurger(
            session_factory=session_factory,
            message_log_days=settings.ocpp_message_log_retention_days,
            status_history_days=settings.status_history_retention_days,
            interval_s=settings.retention_interval_s,
        ),
    ]
    leadership = Leadership(
        database_url=settings.database_url,
        instance_id=instance_id,
        elect=settings.elects_leader,
        poll_interval_s=settings.leader_poll_interval_s,
        singletons=singletons,
    )
    prometheus_client.Gauge(
        "chargenet_leader",
        "1 while this instance leads (runs the scheduler, health monitor, reconciler, expiry).",
        registry=metrics.registry,
    ).set_function(lambda: 1.0 if leadership.is_leader else 0.0)
    runtime = Runtime(
        settings, engine, session_factory, bus, registry, ocpp, tokens, commands,
        payments=payments, reconciler=reconciler, leadership=leadership,
    )  # fmt: skip

    async def start_guest(intent_id: str) -> bool:
        """A guest's (ad hoc) hold is in place: start their charger (Stripe is re-read)."""
        assert payments is not None
        return await start_if_authorised(
            session_factory=session_factory, gateway=payments, bus=bus, commander=registry,
            runner=commands, start_window_s=settings.remote_command_window_s,
            intent_id=intent_id,
        )  # fmt: skip

    async def healthz(_: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    async def readyz(_: Request) -> JSONResponse:
        try:
            async with engine.connect() as connection:
                await connection.execute(sa.text("SELECT 1"))
        except Exception as exc:  # any failure means "not ready"; say which
            log.warning("readiness check failed: %s", exc)
            return JSONResponse(
                {"status": "unavailable", "database": "unreachable"}, status_code=503
            )
        return JSONResponse(
            {
                "status": "ok",
                "database": "ok",
                "stations_connected": len(registry),
                "instance_id": instance_id,
                "leader": leadership.is_leader,
            }
        )

    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics.endpoint),
        WebSocketRoute("/ocpp/{station_id}", ocpp),
        Route("/graphql", graphql_app, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql_app),
        webhook_route(
            settings=settings,
            session_factory=session_factory,
            on_authorised=start_guest if payments is not None else None,
        ),
    ]

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            stack.push_async_callback(engine.dispose)
            await bus.start()
            stack.push_async_callback(bus.close)
            stack.push_async_callback(rate_limiter.close)
            stack.push_async_callback(lockout.close)
            await stack.enter_async_context(registry)
            await stack.enter_async_context(ocpp)
            await stack.enter_async_context(commands)
            if payments is not None:
                stack.push_async_callback(payments.close)
            await stack.enter_async_context(leadership)  # starts the singletons when leading
            log.info(
                "chargenet ready (database %s)", engine.url.render_as_string(hide_password=True)
            )
            yield

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.runtime = runtime
    app.state.health = health  # tests drive its clock
    app.state.metrics = metrics
    return app
