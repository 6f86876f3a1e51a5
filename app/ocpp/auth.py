"""Station authentication at the WebSocket handshake (OCPP security profile 1: HTTP Basic)."""

import asyncio
import base64
import binascii
import hashlib
import hmac
import logging
import os
import secrets

from app.db.engine import SessionFactory
from app.services import stations
from app.services.security import verify_password

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


class StationAuthenticator:
    """Checks a station's password, remembering successes so reconnect storms stay cheap.

    argon2 is deliberately slow (tens of ms of CPU): it runs in a thread, at most a few at a
    time, and a verified password is remembered as an HMAC under a per-process random key,
    keyed by the stored hash, so a changed password is checked afresh.
    """

    def __init__(
        self, *, session_factory: SessionFactory, allow_unknown: bool, max_cached: int = 100_000
    ) -> None:
        self._session_factory = session_factory
        self._allow_unknown = allow_unknown
        self._key = secrets.token_bytes(32)
        self._verified: dict[tuple[str, str], bytes] = {}
        self._max_cached = max_cached
        self._argon2_slots = asyncio.Semaphore(max(2, os.cpu_count() or 2))
        self.argon2_checks = 0

    def _digest(self, password: str) -> bytes:
        return hmac.new(self._key, password.encode("utf-8"), hashlib.sha256).digest()

    async def authenticate(self, station_id: str, authorization: str | None) -> bool:
        """True when the station may connect. Unknown stations only with allow_unknown
        (registered as PENDING); a known station with a password must present it."""
        credentials = await stations.get_credentials(
            session_factory=self._session_factory, station_id=station_id
        )
        if credentials is None:
            if not self._allow_unknown:
                log.warning("refused unknown station %r", station_id)
                return False
            await stations.register_pending_station(
                session_factory=self._session_factory, station_id=station_id
            )
            return True
        if credentials.password_hash is None:
            return self._allow_unknown
        given = basic_credentials(authorization)
        if given is None or not hmac.compare_digest(given[0].encode(), station_id.encode()):
            log.warning("refused station %r: missing or mismatched credentials", station_id)
            return False
        key = (station_id, credentials.password_hash)
        digest = self._digest(given[1])
        cached = self._verified.get(key)
        if cached is not None and hmac.compare_digest(cached, digest):
            return True
        async with self._argon2_slots:
            self.argon2_checks += 1
            ok = await asyncio.to_thread(verify_password, credentials.password_hash, given[1])
        if not ok:
            log.warning("refused station %r: wrong password", station_id)
            return False
        if len(self._verified) >= self._max_cached:
            self._verified.pop(next(iter(self._verified)))
        self._verified[key] = digest
        return True
