"""Rate limits: token buckets per principal and per client IP, in memory or shared in Redis.

A bucket holds up to `burst` tokens and refills at `rate` tokens per second; every GraphQL
operation takes one. With `REDIS_URL` set the buckets live in Redis (one Lua script updates a
bucket atomically), so every instance behind the load balancer draws on the same budget.
"""

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.settings import Settings

log = logging.getLogger(__name__)

Clock = Callable[[], float]
"""Seconds on a monotonic-enough scale; injected so tests move time by hand."""


class TokenBuckets(Protocol):
    async def take(self, key: str, *, rate: float, burst: int) -> float:
        """Take one token from `key`'s bucket: 0.0 if granted, else seconds until one is due."""
        ...


def _refill(tokens: float, elapsed: float, *, rate: float, burst: int) -> float:
    return min(float(burst), tokens + max(elapsed, 0.0) * rate)


class InMemoryBuckets:
    """Buckets of this process. Full buckets are forgotten once `max_keys` is passed, so a
    stream of one-off client addresses cannot grow the table without bound."""

    def __init__(self, *, clock: Clock = time.monotonic, max_keys: int = 100_000) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    async def take(self, key: str, *, rate: float, burst: int) -> float:
        now = self._clock()
        tokens, at = self._buckets.get(key, (float(burst), now))
        tokens = _refill(tokens, now - at, rate=rate, burst=burst)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            self._forget_full(rate=rate, burst=burst, now=now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / rate

    def _forget_full(self, *, rate: float, burst: int, now: float) -> None:
        if len(self._buckets) <= self._max_keys:
            return
        full_after = burst / rate
        self._buckets = {
            key: value for key, value in self._buckets.items() if now - value[1] < full_after
        }


# KEYS[1] bucket; ARGV: now (s), rate (tokens/s), burst. Returns the wait in milliseconds
# (0 = granted) as an integer, since Lua numbers come back to Redis as integers.
_TAKE_SCRIPT = """
local now = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
local elapsed = now - at
if elapsed < 0 then elapsed = 0 end
tokens = math.min(burst, tokens + elapsed * rate)
local wait_ms = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait_ms = math.ceil((1 - tokens) / rate * 1000)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return wait_ms
"""


class RedisBuckets:
    """Buckets shared by every instance. The clock is the caller's (instances' clocks are
    assumed NTP-close; a clock behind the stored one refills nothing rather than going back)."""

    def __init__(
        self, redis: Redis, *, prefix: str = "chargenet:ratelimit:", clock: Clock = time.time
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._clock = clock
        self._script = redis.register_script(_TAKE_SCRIPT)

    async def take(self, key: str, *, rate: float, burst: int) -> float:
        try:
            wait_ms = await self._script(
                keys=[self._prefix + key], args=[repr(self._clock()), repr(rate), burst]
            )
        except RedisError as exc:
            # Fail open: an unreachable Redis must not take the whole API down with it.
            log.warning("rate limit not applied, Redis unavailable: %s", exc)
            return 0.0
        return int(wait_ms) / 1000.0


@dataclass(frozen=True, slots=True)
class Budget:
    rate_per_s: float
    burst: int

    @property
    def enabled(self) -> bool:
        return self.rate_per_s > 0


@dataclass(frozen=True, slots=True)
class RateLimited:
    """Over budget: which budget, and when to try again."""

    budget: str
    retry_after_s: float

    @property
    def retry_after_whole_s(self) -> int:
        return max(1, math.ceil(self.retry_after_s))


class RateLimiter:
    """Two separate budgets: every operation from a client address draws on the address's, and
    an authenticated one also on its principal's (so many drivers behind one carrier NAT do not
    share a driver's budget, and one driver cannot spend it from many addresses)."""

    def __init__(
        self,
        buckets: TokenBuckets,
        *,
        per_ip: Budget,
        per_principal: Budget,
        redis: Redis | None = None,
    ) -> None:
        self.buckets = buckets
        self.per_ip = per_ip
        self.per_principal = per_principal
        self._redis = redis

    @classmethod
    def from_settings(cls, settings: Settings) -> "RateLimiter":
        """Redis buckets when REDIS_URL is set (one budget for all instances), else in memory."""
        per_ip = Budget(settings.rate_limit_ip_per_s, settings.rate_limit_ip_burst)
        per_principal = Budget(
            settings.rate_limit_principal_per_s, settings.rate_limit_principal_burst
        )
        if settings.redis_url:
            redis = Redis.from_url(settings.redis_url)
            buckets = RedisBuckets(redis, prefix=f"{settings.redis_key_prefix}ratelimit:")
            return cls(buckets, per_ip=per_ip, per_principal=per_principal, redis=redis)
        return cls(InMemoryBuckets(), per_ip=per_ip, per_principal=per_principal)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()

    async def check(self, *, ip: str | None, principal: str | None) -> RateLimited | None:
        """Take a token from each budget that applies; the first one that is empty refuses."""
        if ip is not None and self.per_ip.enabled:
            wait = await self.buckets.take(
                f"ip:{ip}", rate=self.per_ip.rate_per_s, burst=self.per_ip.burst
            )
            if wait > 0:
                return RateLimited("ip", wait)
        if principal is not None and self.per_principal.enabled:
            wait = await self.buckets.take(
                f"principal:{principal}",
                rate=self.per_principal.rate_per_s,
                burst=self.per_principal.burst,
            )
            if wait > 0:
                return RateLimited("principal", wait)
        return None
