"""Abuse limits of the OCPP endpoint: handshake lockout after repeated failures, and a per-station
message rate limit (token bucket).

Failed handshakes are counted behind `FailureStore`: in process memory, or in Redis when
REDIS_URL is set, so that an attacker cannot spread guesses over the instances behind the load
balancer (each would otherwise allow `max_failures` of its own). Both take an injected clock.
"""

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.settings import Settings

log = logging.getLogger(__name__)

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """`max_failures` failed handshakes within `window_s` lock the key for `lockout_s`; each
    further lockout of the same key (before it is forgiven) doubles, up to `max_lockout_s`."""

    max_failures: int = 5
    window_s: float = 300.0
    lockout_s: float = 60.0
    max_lockout_s: float = 3600.0

    def lock_duration(self, lockouts: int) -> float:
        """How long the `lockouts`-th consecutive lockout (1-based) lasts."""
        return min(self.max_lockout_s, self.lockout_s * 2.0 ** min(lockouts - 1, 30))


class FailureStore(Protocol):
    """Counts failed handshakes per key ("addr:<ip>", "station:<id>")."""

    async def retry_after(self, key: str) -> float:
        """Seconds the key stays locked; 0 when it may try now."""
        ...

    async def record_failure(self, key: str) -> float:
        """Count one failure; the lock it caused in seconds (0 when not locked by it)."""
        ...

    async def forgive(self, key: str) -> None:
        """Forget the key's failures (a successful handshake)."""
        ...


@dataclass(slots=True)
class _Record:
    failures: list[float]
    locked_until: float = 0.0
    lockouts: int = 0
    last_seen: float = 0.0


class InMemoryFailureStore:
    """`FailureStore` in this process. Bounded: past `max_keys` the least recently seen key is
    dropped (an attacker spraying addresses costs memory, never unbounded)."""

    def __init__(
        self, policy: LockoutPolicy, *, clock: Clock = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self.policy = policy
        self._clock = clock
        self._max_keys = max_keys
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def _record(self, key: str, now: float) -> _Record:
        record = self._records.get(key)
        if record is None:
            record = _Record(failures=[])
            self._records[key] = record
            if len(self._records) > self._max_keys:
                self._records.popitem(last=False)
        else:
            self._records.move_to_end(key)
        record.last_seen = now
        return record

    async def retry_after(self, key: str) -> float:
        record = self._records.get(key)
        if record is None:
            return 0.0
        return max(0.0, record.locked_until - self._clock())

    async def record_failure(self, key: str) -> float:
        now = self._clock()
        policy = self.policy
        record = self._record(key, now)
        if record.lockouts and now - record.locked_until > policy.window_s:
            record.lockouts = 0  # quiet for a whole window after its lock: start over
        record.failures = [t for t in record.failures if now - t < policy.window_s]
        record.failures.append(now)
        if len(record.failures) < policy.max_failures:
            return 0.0
        record.lockouts += 1
        record.failures.clear()
        duration = policy.lock_duration(record.lockouts)
        record.locked_until = now + duration
        return duration

    async def forgive(self, key: str) -> None:
        self._records.pop(key, None)

    async def close(self) -> None:
        """Nothing to release (the same lifecycle as `RedisFailureStore`)."""


# KEYS[1] the key's state (hash: locked_until, lockouts, seq), KEYS[2] its failure times (zset).
# ARGV: now (s), window_s, max_failures, lockout_s, max_lockout_s. Returns the lock it caused in
# milliseconds (0: none). The same rules as InMemoryFailureStore.record_failure, atomically.
_RECORD_SCRIPT = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local max_failures = tonumber(ARGV[3])
local lockout_s = tonumber(ARGV[4])
local max_lockout_s = tonumber(ARGV[5])
local locked_until = tonumber(redis.call('HGET', KEYS[1], 'locked_until')) or 0
local lockouts = tonumber(redis.call('HGET', KEYS[1], 'lockouts')) or 0
if lockouts > 0 and now - locked_until > window then lockouts = 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('ZADD', KEYS[2], now, tostring(seq))
redis.call('PEXPIRE', KEYS[2], math.ceil(window * 1000))
local duration = 0
if redis.call('ZCARD', KEYS[2]) >= max_failures then
  lockouts = lockouts + 1
  redis.call('DEL', KEYS[2])
  duration = math.min(max_lockout_s, lockout_s * 2 ^ math.min(lockouts - 1, 30))
  locked_until = now + duration
end
redis.call('HSET', KEYS[1], 'locked_until', tostring(locked_until), 'lockouts', lockouts)
-- Kept while the lock holds and a quiet window after it (the doubling forgets after that).
local keep = math.max(locked_until, now) + window - now
redis.call('PEXPIRE', KEYS[1], math.ceil(keep * 1000))
return math.ceil(duration * 1000)
"""


class RedisFailureStore:
    """`FailureStore` shared by every instance on one Redis: a key locked on one instance is
    locked on all. The clock is wall time (instances' clocks are assumed NTP-close).

    An unreachable Redis fails open (no lockout, logged): it must not stop every station from
    connecting; the argon2 check still guards each password.
    """

    def __init__(
        self,
        redis: Redis,
        policy: LockoutPolicy,
        *,
        prefix: str = "chargenet:ocpp-lockout:",
        clock: Clock = time.time,
    ) -> None:
        self.policy = policy
        self._redis = redis
        self._prefix = prefix
        self._clock = clock
        self._record = redis.register_script(_RECORD_SCRIPT)

    def _keys(self, key: str) -> list[str]:
        return [f"{self._prefix}{key}", f"{self._prefix}{key}:failures"]

    async def retry_after(self, key: str) -> float:
        try:
            locked_until = await self._redis.hget(self._keys(key)[0], "locked_until")
        except RedisError as exc:
            log.warning("OCPP lockout not checked, Redis unavailable: %s", exc)
            return 0.0
        if locked_until is None:
            return 0.0
        return max(0.0, float(locked_until) - self._clock())

    async def record_failure(self, key: str) -> float:
        p = self.policy
        args: list[str | float] = [repr(self._clock()), p.window_s, p.max_failures]
        args += [p.lockout_s, p.max_lockout_s]
        try:
            locked_ms = await self._record(keys=self._keys(key), args=args)
        except RedisError as exc:
            log.warning("OCPP handshake failure not counted, Redis unavailable: %s", exc)
            return 0.0
        return int(locked_ms) / 1000.0

    async def forgive(self, key: str) -> None:
        try:
            await self._redis.delete(*self._keys(key))
        except RedisError as exc:
            log.warning("OCPP lockout not cleared, Redis unavailable: %s", exc)

    async def close(self) -> None:
        await self._redis.aclose()


def lockout_policy(settings: Settings) -> LockoutPolicy:
    return LockoutPolicy(
        max_failures=settings.ocpp_auth_max_failures,
        window_s=settings.ocpp_auth_failure_window_s,
        lockout_s=settings.ocpp_auth_lockout_s,
        max_lockout_s=settings.ocpp_auth_lockout_max_s,
    )


def create_failure_store(settings: Settings) -> InMemoryFailureStore | RedisFailureStore:
    """In Redis when REDIS_URL is set (one lockout for every instance), else in memory."""
    policy = lockout_policy(settings)
    if settings.redis_url:
        return RedisFailureStore(
            Redis.from_url(settings.redis_url),
            policy,
            prefix=f"{settings.redis_key_prefix}ocpp-lockout:",
        )
    return InMemoryFailureStore(policy)


class TokenBucket:
    """`rate_per_s` tokens a second, at most `burst` saved; one message takes one token."""

    __slots__ = ("_clock", "_stamp", "_tokens", "burst", "rate_per_s")

    def __init__(self, *, rate_per_s: float, burst: int, clock: Clock = time.monotonic) -> None:
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()

    def take(self) -> float:
        """0 when a message may pass (and takes its token); else seconds until one would."""
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate_per_s)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate_per_s


def retry_after_header(seconds: float) -> str:
    """An HTTP Retry-After value: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))
