"""Station authentication at the WebSocket handshake (OCPP security profiles 1 and 2: HTTP Basic,
over TLS for profile 2), with a lockout after repeated failures."""

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from app.db.engine import SessionFactory
from app.events import EventBus
from app.ocpp.limits import FailureStore
from app.services import station_credentials, stations
from app.services.security import verify_password
from app.services.station_credentials import PasswordRole, StationSecrets

log = logging.getLogger(__name__)


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(username, password) from an `Authorization: Basic ...` header, or None."""
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, separator, password = decoded.partition(":")
    return (username, password) if separator else None


@dataclass(frozen=True, slots=True)
class AuthDecision:
    """`ok`, or refused: `retry_after_s` > 0 means locked out (HTTP 429), else 401."""

    ok: bool
    retry_after_s: float = 0.0


ALLOWED = AuthDecision(ok=True)
DENIED = AuthDecision(ok=False)


class StationAuthenticator:
    """Checks a station's password, remembering successes so reconnect storms stay cheap.

    argon2 is deliberately slow (tens of ms of CPU): it runs in a thread, at most a few at a
    time, and a verified password is remembered as an HMAC under a per-process random key,
    keyed by the stored hash, so a changed password is checked afresh.

    Lockout: failures count per client address and per station id (`FailureStore`). While
    either is locked, only a password this process has already verified is accepted (from the
    cache, no argon2): guessing stops, yet a real station behind the same address, or whose
    id an attacker is hammering, keeps connecting.
    """

    def __init__(
        self,
        *,
        session_factory: SessionFactory,
        allow_unknown: bool,
        failures: FailureStore | None = None,
        max_cached: int = 100_000,
        db_slots: asyncio.Semaphore | None = None,
        bus: EventBus | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._bus = bus  # announces a station registered as PENDING (whole-network feeds)
        # Shared with the endpoint's other per-handshake writes (`OcppServer`): see there.
        self._db_slots = db_slots or contextlib.nullcontext()
        self._allow_unknown = allow_unknown
        self._failures = failures
        self._key = secrets.token_bytes(32)
        self._verified: dict[tuple[str, str], bytes] = {}
        self._max_cached = max_cached
        self._argon2_slots = asyncio.Semaphore(max(2, os.cpu_count() or 2))
        self.argon2_checks = 0

    def _digest(self, password: str) -> bytes:
        return hmac.new(self._key, password.encode("utf-8"), hashlib.sha256).digest()

    async def authenticate(
        self, station_id: str, authorization: str | None, address: str = "unknown"
    ) -> bool:
        """True when the station may connect (see `check` for the reason of a refusal)."""
        return (await self.check(station_id, authorization, address)).ok

    async def check(
        self, station_id: str, authorization: str | None, address: str = "unknown"
    ) -> AuthDecision:
        """May the station connect? Unknown stations only with allow_unknown (registered as
        PENDING); a known station with a password must present it, with its own id as the
        Basic username."""
        keys = (f"addr:{address}", f"station:{station_id}")
        locked_s = 0.0
        if self._failures is not None:
            for key in keys:
                locked_s = max(locked_s, await self._failures.retry_after(key))
        now = datetime.now(UTC)
        async with self._db_slots:
            secrets_ = await station_credentials.get_secrets(
                session_factory=self._session_factory, station_id=station_id, now=now
            )
        if secrets_ is None:
            if not self._allow_unknown:
                log.warning("refused unknown station %r from %s", station_id, address)
                return await self._fail(keys[:1], locked_s)
            if locked_s:
                return AuthDecision(ok=False, retry_after_s=locked_s)
            await stations.register_pending_station(
                session_factory=self._session_factory, station_id=station_id, bus=self._bus
            )
            return ALLOWED
        if not secrets_.has_password:
            return ALLOWED if self._allow_unknown else DENIED
        given = basic_credentials(authorization)
        if given is None or not hmac.compare_digest(given[0].encode(), station_id.encode()):
            log.warning("refused station %r: missing or mismatched credentials", station_id)
            return await self._fail(keys, locked_s)
        digest = self._digest(given[1])
        for role, password_hash in secrets_.hashes:
            cached = self._verified.get((station_id, password_hash))
            if cached is not None and hmac.compare_digest(cached, digest):
                await self._succeeded(secrets_, role, password_hash)
                return ALLOWED
        if locked_s:
            # Locked: no argon2 for passwords this process has not seen verified.
            return AuthDecision(ok=False, retry_after_s=locked_s)
        for role, password_hash in secrets_.hashes:
            async with self._argon2_slots:
                self.argon2_checks += 1
                ok = await asyncio.to_thread(verify_password, password_hash, given[1])
            if ok:
                if len(self._verified) >= self._max_cached:
                    self._verified.pop(next(iter(self._verified)))
                self._verified[(station_id, password_hash)] = digest
                await self._succeeded(secrets_, role, password_hash)
                return ALLOWED
        log.warning("refused station %r from %s: wrong password", station_id, address)
        return await self._fail(keys, locked_s)

    async def _succeeded(
        self, secrets_: StationSecrets, role: PasswordRole, password_hash: str
    ) -> None:
        station_id = secrets_.station_id
        if self._failures is not None:
            await self._failures.forgive(f"station:{station_id}")
        if role == PasswordRole.CURRENT and len(secrets_.hashes) == 1:
            return  # no rotation under way: nothing to retire
        await station_credentials.note_authenticated(
            session_factory=self._session_factory,
            station_id=station_id,
            role=role,
            password_hash=password_hash,
        )

    async def _fail(self, keys: tuple[str, ...], locked_s: float) -> AuthDecision:
        """Count a failure against `keys`; a lock in force already answers 429."""
        if locked_s:
            return AuthDecision(ok=False, retry_after_s=locked_s)
        if self._failures is not None:
            for key in keys:
                if await self._failures.record_failure(key):
                    log.warning("OCPP handshake failures: %s locked out", key)
        return DENIED
