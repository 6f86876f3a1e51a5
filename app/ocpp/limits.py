"""Abuse limits of the OCPP endpoint: handshake lockout after repeated failures, and a per-station
message rate limit (token bucket).

State lives in process memory behind `FailureStore`, so a Redis-backed store can replace it
when several instances must share it (issue 9). Both take an injected monotonic clock.
"""

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

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
