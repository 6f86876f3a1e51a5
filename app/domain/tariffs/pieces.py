"""Cuts a session into pieces inside which no restriction changes; picks their elements."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise

from app.domain.tariffs.model import (
    WEEKDAYS,
    PriceComponent,
    Tariff,
    TariffDimension,
    TariffRestrictions,
)
from app.domain.tariffs.timeline import ChargingPeriod


@dataclass(slots=True)
class Line:
    element_index: int
    component: PriceComponent
    quantity: Fraction


@dataclass(slots=True)
class Piece:
    start: Fraction  # seconds since the session started
    end: Fraction
    energy_wh: Fraction
    energy_before_wh: Fraction
    charging: bool
    power_w: Fraction
    current_a: Fraction | None
    consumed: dict[TariffDimension, Fraction] = field(default_factory=dict)
    lines: dict[TariffDimension, Line] = field(default_factory=dict)


def seconds(delta: timedelta) -> Fraction:
    return Fraction(delta.days * 86_400 + delta.seconds) + Fraction(delta.microseconds, 10**6)


def to_timedelta(value_s: Fraction) -> timedelta:
    return timedelta(microseconds=round(value_s * 10**6))


def cut(
    tariff: Tariff, periods: Sequence[ChargingPeriod], origin: datetime, zone: tzinfo
) -> list[Piece]:
    """The periods, cut wherever a restriction may change its verdict."""
    rules = [e.restrictions for e in tariff.elements if e.restrictions is not None]
    clock = {t for r in rules for t in (r.start_time, r.end_time) if t is not None}
    if any(r.uses_clock for r in rules):
        clock.add(time(0))
    thresholds_wh = {
        Fraction(kwh) * 1000 for r in rules for kwh in (r.min_kwh, r.max_kwh) if kwh is not None
    }
    durations = {
        Fraction(s) for r in rules for s in (r.min_duration_s, r.max_duration_s) if s is not None
    }
    pieces: list[Piece] = []
    energy_before = Fraction(0)
    for period in periods:
        start, end = period.start.astimezone(UTC), period.end.astimezone(UTC)
        p_start, p_end = seconds(start - origin), seconds(end - origin)
        length, energy = p_end - p_start, Fraction(period.energy_wh)
        cuts = {d for d in durations if p_start < d < p_end}
        cuts.update(
            p_start + (t - energy_before) / energy * length
            for t in thresholds_wh
            if energy_before < t < energy_before + energy
        )
        if clock:
            cuts.update(seconds(c - origin) for c in _clock_instants(start, end, zone, clock))
        power = Fraction(period.power_w) if period.power_w is not None else energy * 3600 / length
        current = Fraction(period.current_a) if period.current_a is not None else None
        for a, b in pairwise([p_start, *sorted(cuts), p_end]):
            share = energy * (b - a) / length
            pieces.append(Piece(a, b, share, energy_before, period.charging, power, current))
            energy_before += share
    return pieces


def _clock_instants(
    start: datetime, end: datetime, zone: tzinfo, clock: set[time]
) -> list[datetime]:
    """UTC instants strictly inside (start, end) at which the local clock reads a time in `clock`,
    plus the UTC-offset changes (a time skipped by a DST jump switches at the jump)."""
    instants = []
    day = start.astimezone(zone).date() - timedelta(days=1)
    while day <= end.astimezone(zone).date() + timedelta(days=1):
        for t in clock:
            for fold in (0, 1):
                instant = datetime.combine(day, t, tzinfo=zone).replace(fold=fold).astimezone(UTC)
                if start < instant < end:
                    instants.append(instant)
        day += timedelta(days=1)
    lo = start
    while lo < end:
        hi = min(lo + timedelta(hours=6), end)
        if lo.astimezone(zone).utcoffset() != hi.astimezone(zone).utcoffset():
            a, b = lo, hi
            while b - a > timedelta(microseconds=1):
                mid = a + (b - a) / 2
                same = mid.astimezone(zone).utcoffset() == a.astimezone(zone).utcoffset()
                a, b = (mid, b) if same else (a, mid)
            if b < end:
                instants.append(b)
        lo = hi
    return instants


def _holds(
    rule: TariffRestrictions,
    *,
    local: datetime,
    energy_wh: Fraction,
    elapsed_s: Fraction,
    power_w: Fraction,
    current_a: Fraction | None,
) -> bool:
    if rule.reservation is not None:  # prices a reservation, never a charging session
        return False
    now, today = local.time(), local.date()
    start, end = rule.start_time, rule.end_time
    if start is not None and end is not None and start > end:
        if not (now >= start or now < end):  # the window crosses midnight
            return False
    elif (start is not None and now < start) or (end is not None and now >= end):
        return False
    if (rule.start_date is not None and today < rule.start_date) or (
        rule.end_date is not None and today >= rule.end_date
    ):
        return False
    if rule.day_of_week and WEEKDAYS[today.weekday()] not in rule.day_of_week:
        return False
    if (rule.min_current_a is not None or rule.max_current_a is not None) and current_a is None:
        return False
    checks: list[tuple[Fraction | None, Decimal | int | None, Decimal | int | None, int]] = [
        (energy_wh, rule.min_kwh, rule.max_kwh, 1000),
        (current_a, rule.min_current_a, rule.max_current_a, 1),
        (power_w, rule.min_power_kw, rule.max_power_kw, 1000),
        (elapsed_s, rule.min_duration_s, rule.max_duration_s, 1),
    ]
    for value, low, high, scale in checks:
        if value is None:
            continue
        if low is not None and value < Fraction(low) * scale:
            return False
        if high is not None and value >= Fraction(high) * scale:
            return False
    return True


def select(tariff: Tariff, pieces: list[Piece], origin: datetime, zone: tzinfo) -> None:
    """Fill each piece's lines: per dimension, the first matching element that prices it."""
    flat_billed = False
    for piece in pieces:
        middle = (piece.start + piece.end) / 2  # nothing switches strictly inside a piece
        length = piece.end - piece.start
        matching = [
            (index, element)
            for index, element in enumerate(tariff.elements)
            if element.restrictions is None
            or _holds(
                element.restrictions,
                local=(origin + to_timedelta(middle)).astimezone(zone),
                energy_wh=piece.energy_before_wh + piece.energy_wh / 2,
                elapsed_s=middle,
                power_w=piece.power_w,
                current_a=piece.current_a,
            )
        ]
        piece.consumed = {
            TariffDimension.ENERGY: piece.energy_wh,
            TariffDimension.TIME: length if piece.charging else Fraction(0),
            TariffDimension.PARKING_TIME: Fraction(0) if piece.charging else length,
            TariffDimension.FLAT: Fraction(0 if flat_billed else 1),
        }
        for dimension, consumed in piece.consumed.items():
            for index, element in matching:
                component = element.component(dimension)
                if component is not None:
                    piece.lines[dimension] = Line(index, component, consumed)
                    break
        if TariffDimension.FLAT in piece.lines:
            flat_billed = True
