"""Port uptime per US NEVI (23 CFR 680.116(b)) from status and connectivity histories.

The rule: mu = ((T - (T_outage - T_excluded)) / T) * 100, where T is the period (525,600 minutes
for a year; here any window), T_outage the time the port was not operational and T_excluded the
part of that outage with a cause outside the operator's control (utility outages, vandalism,
natural disasters, scheduled maintenance). A port is up when its hardware and software are
online and available for use or in use: here AVAILABLE, CHARGING, RESERVED or BLOCKED (a car
parked in front is not a fault) while the station is connected. Anything else (OUTOFORDER,
INOPERATIVE, UNKNOWN, no report at all, the station offline) is outage.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from app.domain.enums import EvseStatus

UP_STATUSES = frozenset(
    {EvseStatus.AVAILABLE, EvseStatus.CHARGING, EvseStatus.RESERVED, EvseStatus.BLOCKED}
)


class ExclusionKind(StrEnum):
    SCHEDULED_MAINTENANCE = "SCHEDULED_MAINTENANCE"
    EXCLUDED_OUTAGE = "EXCLUDED_OUTAGE"  # operator-flagged: grid outage, vandalism, disaster


class OutageCause(StrEnum):
    """Why an excluded outage is outside the operator's control (23 CFR 680.116(b)(3))."""

    GRID_OUTAGE = "GRID_OUTAGE"
    VANDALISM = "VANDALISM"
    NATURAL_DISASTER = "NATURAL_DISASTER"
    VEHICLE_FAULT = "VEHICLE_FAULT"
    COMMUNICATION_NETWORK = "COMMUNICATION_NETWORK"
    OTHER = "OTHER"


@dataclass(frozen=True, slots=True)
class Span:
    """[start, end) in UTC; `end` None means "still going" (clipped to the window)."""

    start: datetime
    end: datetime | None


@dataclass(frozen=True, slots=True)
class StatusSpan:
    status: EvseStatus
    start: datetime
    end: datetime | None


@dataclass(frozen=True, slots=True)
class UptimeBreakdown:
    """Seconds in the window and how they split; `uptime_percent` is the NEVI µ."""

    window_s: float
    up_s: float
    outage_s: float
    excluded_s: float
    offline_s: float
    faulted_s: float
    unknown_s: float

    @property
    def uptime_percent(self) -> float:
        if self.window_s <= 0:
            return 100.0
        return round(100.0 * (self.window_s - (self.outage_s - self.excluded_s)) / self.window_s, 4)

    @property
    def excluded_removed_percent(self) -> float:
        """Up time over the window with the excluded time taken out: up / (T - T_excluded).

        The reading of "exclusions do not count" that shrinks the denominator instead of
        forgiving the outage; it is lower than the NEVI µ whenever anything is excluded.
        """
        denominator = self.window_s - self.excluded_s
        if denominator <= 0:
            return 100.0
        return round(100.0 * self.up_s / denominator, 4)


def _clip(spans: Iterable[Span], window: Span) -> list[tuple[datetime, datetime]]:
    assert window.end is not None
    clipped = []
    for span in spans:
        start = max(span.start, window.start)
        end = min(span.end or window.end, window.end)
        if start < end:
            clipped.append((start, end))
    return clipped


def _union(spans: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _seconds(spans: list[tuple[datetime, datetime]]) -> float:
    return sum((end - start).total_seconds() for start, end in spans)


def _overlap(a: list[tuple[datetime, datetime]], b: list[tuple[datetime, datetime]]) -> float:
    """Seconds covered by both unions `a` and `b` (each sorted, non-overlapping)."""
    total, i, j = 0.0, 0, 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            total += (end - start).total_seconds()
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def port_uptime(
    *,
    window: Span,
    statuses: Sequence[StatusSpan],
    offline: Sequence[Span] = (),
    excluded: Sequence[Span] = (),
) -> UptimeBreakdown:
    """Uptime of one port over `window` (which must have an end).

    `statuses`: the EVSE's status intervals; time they do not cover counts as unknown (outage).
    `offline`: when the station was disconnected or silent. `excluded`: maintenance windows and
    excluded outages; they only forgive outage inside them, time up stays up.
    """
    if window.end is None or window.end <= window.start:
        raise ValueError(f"window {window!r}: expected an end after the start")
    window_s = (window.end - window.start).total_seconds()
    offline_spans = _union(_clip(offline, window))

    def online(wanted: bool) -> list[tuple[datetime, datetime]]:
        chosen = (Span(s.start, s.end) for s in statuses if (s.status in UP_STATUSES) == wanted)
        return _subtract(_union(_clip(chosen, window)), offline_spans)

    up = online(True)
    reported = _union(_clip((Span(s.start, s.end) for s in statuses), window))
    outage = _complement(up, window)
    return UptimeBreakdown(
        window_s=window_s,
        up_s=_seconds(up),
        outage_s=_seconds(outage),
        excluded_s=_overlap(outage, _union(_clip(excluded, window))),
        offline_s=_seconds(offline_spans),
        faulted_s=_seconds(online(False)),
        unknown_s=_seconds(_subtract(_complement(reported, window), offline_spans)),
    )


def _subtract(
    a: list[tuple[datetime, datetime]], b: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """The parts of union `a` outside union `b`."""
    result: list[tuple[datetime, datetime]] = []
    for start, end in a:
        cursor = start
        for b_start, b_end in b:
            if b_end <= cursor or b_start >= end:
                continue
            if b_start > cursor:
                result.append((cursor, b_start))
            cursor = max(cursor, b_end)
        if cursor < end:
            result.append((cursor, end))
    return result


def _complement(
    spans: list[tuple[datetime, datetime]], window: Span
) -> list[tuple[datetime, datetime]]:
    assert window.end is not None
    return _subtract([(window.start, window.end)], spans)


def worst(
    breakdowns: Iterable[tuple[str, UptimeBreakdown]], *, limit: int
) -> list[tuple[str, UptimeBreakdown]]:
    """The `limit` ports with the lowest uptime (ties: most outage first, then by key)."""
    ranked = sorted(breakdowns, key=lambda kb: (kb[1].uptime_percent, -kb[1].outage_s, kb[0]))
    return ranked[:limit]
