"""Runtime configuration, read from the environment (and an optional .env file)."""

from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob chargenet has. `.env.example` lists each with its default."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Storage. SQLite is the embedded default; PostgreSQL is the production database.
    database_url: str = "sqlite+aiosqlite:///./chargenet.db"
    database_echo: bool = False
    redis_url: str | None = None
    redis_key_prefix: str = Field(
        default="chargenet:",
        description="prefix of every Redis key and channel: instances sharing it form one cluster",
    )

    # Server.
    host: str = "127.0.0.1"
    port: int = 8000
    instance_id: str | None = Field(
        default=None, description="this instance's name among several; unset = host:pid"
    )
    # Several instances (REDIS_URL set): the leader runs the singleton tasks.
    leader_election: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="auto = on with PostgreSQL and REDIS_URL; off = always lead (one instance)",
    )
    leader_poll_interval_s: float = Field(
        default=2.0, gt=0, description="followers try the lock, the leader checks it, this often"
    )
    cluster_station_ttl_s: float = Field(
        default=30.0, gt=0, description="a dead instance's station records expire after this"
    )
    cluster_refresh_interval_s: float = Field(
        default=10.0, gt=0, description="how often an instance refreshes its station records"
    )
    log_level: str = "info"

    # OCPP.
    ocpp_allow_unknown_stations: bool = Field(
        default=False,
        description="Let unknown stations connect; they boot as Pending until an operator accepts.",
    )
    ocpp_heartbeat_interval_s: int = Field(default=60, ge=5, le=86_400)
    ocpp_call_timeout_s: float = Field(default=30.0, gt=0)
    ocpp_max_frame_bytes: int = Field(default=65_536, ge=1024)
    ocpp_message_log_retention_days: int = Field(default=30, ge=1)
    # Frames waiting for the message log's writer; past it the oldest are dropped (counted in
    # /metrics). ~0.6 KiB each: 200,000 hold 3 reconnect storms of 10,000 stations.
    ocpp_message_log_max_pending: int = Field(default=200_000, ge=1000)
    # Closed status/connectivity intervals older than this are purged (uptime reports need 12
    # months, NEVI); open ones never are. Both purges run on the leader every interval.
    status_history_retention_days: int = Field(default=400, ge=1)
    retention_interval_s: float = Field(default=3600.0, gt=0)
    # OCPP hardening: handshake lockout, per-station message rate, password rotation.
    ocpp_auth_max_failures: int = Field(
        default=5, ge=1, description="failed handshakes (per address, per station id) that lock"
    )
    ocpp_auth_failure_window_s: float = Field(
        default=300.0, gt=0, description="the window the failures are counted in"
    )
    ocpp_auth_lockout_s: float = Field(
        default=60.0, gt=0, description="first lockout; each further one doubles"
    )
    ocpp_auth_lockout_max_s: float = Field(default=3600.0, gt=0)
    ocpp_rate_limit_per_s: float = Field(
        default=20.0, gt=0, description="sustained CALLs a second one station may send"
    )
    ocpp_rate_limit_burst: int = Field(default=100, ge=1, description="CALLs above the rate")
    ocpp_password_grace_s: int = Field(
        default=86_400,
        ge=60,
        description="how long a station's previous password stays valid after a rotation",
    )
    remote_command_window_s: float = Field(
        default=60.0,
        gt=0,
        description="How long a charger that accepted a remote start/stop has to open/end the "
        "transaction before the command is TIMEOUT.",
    )
    remote_operation_window_s: float = Field(
        default=300.0,
        gt=0,
        description="How long a station that accepted a reset has to boot again, or a "
        "diagnostics upload to end, before the command is TIMEOUT.",
    )
    firmware_update_window_s: float = Field(
        default=3600.0,
        gt=0,
        description="How long after its retrieve time a firmware update has to reach "
        "Installed (or a failure) before the command is TIMEOUT.",
    )
    # The leader's sweep of commands whose following instance died (crash, restart).
    command_sweep_interval_s: float = Field(default=30.0, gt=0)
    command_sweep_grace_s: float = Field(
        default=60.0,
        ge=0,
        description="how long past a follower's own deadline a live command is timed out",
    )

    # Serviceability: the health monitor and the operator API.
    health_check_interval_s: float = Field(
        default=15.0, gt=0, description="seconds between health monitor passes"
    )
    health_offline_alert_after_s: int = Field(
        default=300, ge=0, description="a station offline this long raises STATION_OFFLINE"
    )
    health_meter_silence_s: int = Field(
        default=900, ge=60, description="a session without meter values this long raises"
    )
    health_max_session_s: int = Field(
        default=86_400, ge=600, description="a transaction open this long was never closed"
    )
    station_updated_coalesce_s: float = Field(
        default=1.0, ge=0, description="stationUpdated sends a station's power at most this often"
    )
    alert_webhook_url: str | None = Field(
        default=None, description="alert events are POSTed here; unset = no webhook"
    )
    alert_webhook_secret: SecretStr | None = Field(
        default=None, description="HMAC-SHA256 key of the X-Chargenet-Signature header"
    )
    alert_webhook_max_attempts: int = Field(default=5, ge=1, le=20)
    alert_webhook_backoff_s: float = Field(
        default=1.0, gt=0, description="first retry delay; doubles on every attempt"
    )

    # Load management: the scheduler and its defaults for what sessions do not say.
    loadmgmt_interval_s: float = Field(
        default=60.0, gt=0, description="seconds between recomputes when nothing else triggers one"
    )
    loadmgmt_voltage_v: float = Field(default=230.0, gt=0, description="nominal line-to-neutral")
    loadmgmt_default_energy_wh: int = Field(
        default=20_000, ge=0, description="energy a session wants when the driver did not say"
    )
    loadmgmt_default_dwell_s: int = Field(
        default=4 * 3600, ge=60, description="stay assumed when the driver gave no departure"
    )
    loadmgmt_default_ev_max_w: int = Field(
        default=22_000, gt=0, description="what an EV is assumed to take when unknown"
    )
    loadmgmt_command_timeout_s: float = Field(default=10.0, gt=0)

    openadr_vtn_url: str | None = Field(
        default=None, description="OpenADR 3.0 VTN base URL to poll for grid limits; unset = off"
    )
    openadr_vtn_token: SecretStr | None = None
    openadr_poll_interval_s: float = Field(default=60.0, gt=0)

    # GraphQL.
    graphql_max_page_size: int = Field(default=100, ge=1, le=1000)
    graphql_explorer: bool = True
    graphql_allowed_origins: list[str] = Field(default_factory=list)
    # GraphQL hardening: every limit here is refused with an error naming it (README "Hardening").
    graphql_introspection: bool = Field(
        default=True, description="schema introspection; turn off in production"
    )
    graphql_max_depth: int = Field(default=10, ge=2, le=100)
    graphql_max_tokens: int = Field(default=2000, ge=50, le=100_000)
    graphql_max_aliases: int = Field(default=30, ge=0, le=1000)
    graphql_max_body_bytes: int = Field(
        default=100_000, ge=1024, description="a larger POST body to /graphql gets 413"
    )
    graphql_connection_init_timeout_s: float = Field(
        default=10.0, gt=0, description="a WebSocket must send connection_init within this"
    )
    graphql_max_subscriptions_per_connection: int = Field(default=20, ge=1, le=1000)
    graphql_trusted_documents: str | None = Field(
        default=None,
        description="path to a JSON manifest {sha256: document}; set = only those documents run",
    )
    # Token buckets per principal and per client IP (refill per second, burst); Redis-backed
    # when REDIS_URL is set, so the budget is shared by every instance. Rate 0 = no limit.
    rate_limit_principal_per_s: float = Field(default=20.0, ge=0)
    rate_limit_principal_burst: int = Field(default=100, ge=1)
    rate_limit_ip_per_s: float = Field(default=50.0, ge=0)
    rate_limit_ip_burst: int = Field(default=300, ge=1)

    # Driver and operator authentication (JWT access tokens, rotating refresh tokens).
    auth_jwt_secret: SecretStr | None = Field(
        default=None,
        description="HS256 key for access tokens; unset = random per process (dev only)",
    )
    auth_jwt_issuer: str = "chargenet"
    auth_access_token_ttl_s: int = Field(default=900, ge=60, le=86_400)
    auth_refresh_token_ttl_s: int = Field(default=30 * 86_400, ge=3600)
    # Operators from an external identity provider (OIDC): JWTs verified against its JWKS.
    # All three of URL, issuer and audience set = on; none = off (README "Access control").
    operator_jwks_url: str | None = None
    operator_jwt_issuer: str | None = None
    operator_jwt_audience: str | None = None
    operator_jwt_org_claim: str = Field(
        default="chargenet_org", description="claim holding the operator organisation's id"
    )
    operator_jwt_role_claim: str = Field(
        default="chargenet_role", description="claim holding admin, technician or viewer"
    )
    operator_jwks_cache_s: int = Field(default=300, ge=10, description="how long keys are kept")

    # Payments (used from the payments issue on).
    stripe_secret_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_base: str | None = None
    stripe_timeout_s: float = Field(default=20.0, gt=0, description="per Stripe HTTP request")
    stripe_max_network_retries: int = Field(default=2, ge=0, le=10)
    payment_hold_amount_minor: int = Field(
        default=5000, gt=0, description="the hold placed before a remote start, minor units"
    )
    payment_reconcile_interval_s: float = Field(
        default=10.0, gt=0, description="how often owed captures and releases are retried"
    )
    payment_ad_hoc_ttl_s: float = Field(
        default=900.0, gt=0, description="a guest payment not started by then is cancelled"
    )

    @field_validator(
        "redis_url",
        "instance_id",
        "auth_jwt_secret",
        "stripe_secret_key",
        "stripe_webhook_secret",
        "stripe_api_base",
        "openadr_vtn_url",
        "openadr_vtn_token",
        "operator_jwks_url",
        "operator_jwt_issuer",
        "operator_jwt_audience",
        "alert_webhook_url",
        "alert_webhook_secret",
        "graphql_trusted_documents",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        """`VAR=` in an env file means "not set", as .env.example writes it."""
        return None if value == "" else value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def elects_leader(self) -> bool:
        """Whether instances elect a leader (PostgreSQL advisory lock) for the singletons."""
        if self.is_sqlite or self.leader_election == "off":
            return False
        return self.leader_election == "on" or self.redis_url is not None
