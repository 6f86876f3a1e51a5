"""Prices a charging session on an OCPI 2.2.1 tariff, exactly, into integer minor units.

How a session is priced
    1. The periods are cut wherever an element's restrictions may switch: local start_time,
       end_time and midnight (both folds on a DST day, and the UTC-offset change itself), the
       session-duration thresholds, and the instant the energy so far crosses a min_kwh/max_kwh
       threshold. Power is taken as constant within a period, so energy is split in proportion
       to time, not at meter-sample boundaries: a 22:00 night rate starts at 22:00 sharp even
       when the meter sampled at 21:55 and 22:10.
    2. Each piece takes, per dimension, the first element in list order whose restrictions all
       hold and that has a component of that dimension (OCPI); none means the dimension is free
       there. ENERGY bills Wh, TIME charging seconds, PARKING_TIME idle seconds, FLAT one fee per
       session (the first FLAT component that applies).
    3. Step size: per dimension, the quantity billed so far is rounded up to a multiple of the
       step_size of the last component used, at the end of the session and when the dimension
       is consumed where no element prices it (OCPI: step_size counts "only for the last
       TariffElement and when switching to another TariffElement for the PriceComponents that
       is not in the new TariffElement"). The extra is billed at that last component's price.
       Dimensions are stepped independently: extra charging time does not absorb later parking
       (OCPI's complex example bills both; its step_size example #1 does not, we follow the first).
    4. All of the above is exact (fractions.Fraction). Then, per dimension, the amount excl. VAT
       and its VAT (each piece's amount times its component's VAT %) are rounded once each to
       the currency's minor unit with ROUND_HALF_UP; incl. VAT = excl. + VAT. Totals are sums
       of the rounded dimensions, so the lines of a receipt add up to its total.
    5. min_price and max_price bound the totals, excl. and incl. VAT each (OCPI). A limit
       without incl_vat scales the incl. VAT total by the session's own VAT ratio (or, with
       nothing to scale, applies the tariff's `vat`).

Why ROUND_HALF_UP: it is the commercial rounding drivers and tax offices expect on a receipt and
the one OCPI's own examples use (14.125 -> 14.13). A session rounds a handful of times, so
banker's rounding, whose merit is no bias over many roundings, buys nothing here.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction
from itertools import pairwise
from math import ceil
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.domain.errors import InvalidInput
from app.domain.tariffs.model import (
    WEEKDAYS,
    PriceComponent,
    Tariff,
    TariffDimension,
    TariffRestrictions,
)
from app.domain.tariffs.timeline import ChargingPeriod, require_aware

_UNIT = {  # quantity units per priced unit: Wh per kWh, seconds per hour, sessions per session
    TariffDimension.ENERGY: 1000,
    TariffDimension.TIME: 3600,
    TariffDimension.PARKING_TIME: 3600,
    TariffDimension.FLAT: 1,
}


class PriceLimit(StrEnum):
    MIN_PRICE = "MIN_PRICE"
    MAX_PRICE = "MAX_PRICE"


@dataclass(frozen=True, slots=True)
class DimensionCost:
    """One dimension's bill: quantity in Wh, seconds or sessions; amounts in minor units."""

    billed_quantity: int
    excl_vat: int
    vat: int
    incl_vat: int


@dataclass(frozen=True, slots=True)
class BilledDimension:
    """What a period billed of one dimension (OCPI CdrDimension), and the element that priced it."""

    type: TariffDimension
    element_index: int
    quantity: Decimal  # Wh, s or 1, step extras included; rounded to 0.001 for display
    price: Decimal
    vat: Decimal | None


@dataclass(frozen=True, slots=True)
class PricedPeriod:
    """A stretch of the session over which the same elements applied (OCPI CDR ChargingPeriod)."""

    start: datetime
    end: datetime
    charging: bool
    energy_wh: Decimal  # rounded to 0.001 Wh for display
    dimensions: tuple[BilledDimension, ...]

    def dimension(self, type: TariffDimension) -> BilledDimension | None:
        return next((d for d in self.dimensions if d.type == type), None)


@dataclass(frozen=True, slots=True)
class SessionCost:
    """A session's price; every amount is an integer in the currency's minor unit."""

    tariff_id: str
    currency: str
    energy: DimensionCost
    time: DimensionCost
    parking_time: DimensionCost
    flat: DimensionCost
    total_excl_vat: int
    total_vat: int
    total_incl_vat: int
    price_limit: PriceLimit | None  # which of min_price/max_price changed the totals
    periods: tuple[PricedPeriod, ...]


@dataclass(slots=True)
class _Line:
    element_index: int
    component: PriceComponent
    quantity: Fraction


@dataclass(slots=True)
class _Piece:
    start: Fraction  # seconds since the session started
    end: Fraction
    energy_wh: Fraction
    energy_before_wh: Fraction
    charging: bool
    power_w: Fraction
    current_a: Fraction | None
    consumed: dict[TariffDimension, Fraction] = field(default_factory=dict)
    lines: dict[TariffDimension, _Line] = field(default_factory=dict)


def price_session(
    tariff: Tariff, periods: Sequence[ChargingPeriod], *, time_zone: str | tzinfo
) -> SessionCost:
    """The cost of a session made of contiguous `periods` at a location in `time_zone` (IANA)."""
    zone = _zone(time_zone)
    if not periods:
        raise InvalidInput("a session needs at least one charging period")
    for before, after in pairwise(periods):
        if after.start != before.end:
            raise InvalidInput(
                f"charging periods must be contiguous: one ends {before.end.isoformat()}, "
                f"the next starts {after.start.isoformat()}"
            )
    origin = periods[0].start.astimezone(UTC)
    pieces = _cut(tariff, periods, origin, zone)
    _select(tariff, pieces, origin, zone)
    dims = {d: _bill(tariff, pieces, d) for d in TariffDimension}
    return _total(tariff, dims, _merge(pieces, origin))


def estimate_cost(
    tariff: Tariff,
    *,
    energy_wh: int,
    duration_s: int,
    start: datetime,
    time_zone: str | tzinfo,
    power_w: int | None = None,
) -> SessionCost:
    """Price of `energy_wh` over `duration_s` from `start`, for a quote before charging.

    Without `power_w` the power is constant over the whole duration. With it, the EV charges at
    `power_w` until the energy is in, then stays plugged in idle for the rest of the duration.
    """
    require_aware("start", start)
    if duration_s <= 0:
        raise InvalidInput(f"duration_s must be > 0, got {duration_s}")
    if energy_wh < 0:
        raise InvalidInput(f"energy_wh must be >= 0, got {energy_wh}")
    end = start + timedelta(seconds=duration_s)
    if power_w is None:
        periods = [
            ChargingPeriod(start=start, end=end, energy_wh=energy_wh, charging=energy_wh > 0)
        ]
        return price_session(tariff, periods, time_zone=time_zone)
    if power_w <= 0:
        raise InvalidInput(f"power_w must be > 0, got {power_w}")
    charging_s = Fraction(energy_wh * 3600, power_w)
    if charging_s > duration_s:
        raise InvalidInput(
            f"{energy_wh} Wh at {power_w} W takes {float(charging_s):.0f} s, "
            f"more than duration_s {duration_s}"
        )
    stop = start + _timedelta(charging_s)
    periods = []
    if stop > start:
        periods.append(ChargingPeriod(start=start, end=stop, energy_wh=energy_wh, power_w=power_w))
    if end > stop:
        periods.append(ChargingPeriod(start=stop, end=end, energy_wh=0, charging=False, power_w=0))
    return price_session(tariff, periods, time_zone=time_zone)


def _zone(time_zone: str | tzinfo) -> tzinfo:
    if not isinstance(time_zone, str):
        return time_zone
    try:
        return ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(f"time zone {time_zone!r} is not an IANA time zone") from None


def _seconds(delta: timedelta) -> Fraction:
    return Fraction(delta.days * 86_400 + delta.seconds) + Fraction(delta.microseconds, 10**6)


def _timedelta(seconds: Fraction) -> timedelta:
    return timedelta(microseconds=round(seconds * 10**6))


def _cut(
    tariff: Tariff, periods: Sequence[ChargingPeriod], origin: datetime, zone: tzinfo
) -> list[_Piece]:
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
    pieces: list[_Piece] = []
    energy_before = Fraction(0)
    for period in periods:
        start, end = period.start.astimezone(UTC), period.end.astimezone(UTC)
        p_start, p_end = _seconds(start - origin), _seconds(end - origin)
        length, energy = p_end - p_start, Fraction(period.energy_wh)
        cuts = {d for d in durations if p_start < d < p_end}
        cuts.update(
            p_start + (t - energy_before) / energy * length
            for t in thresholds_wh
            if energy_before < t < energy_before + energy
        )
        if clock:
            cuts.update(_seconds(c - origin) for c in _clock_instants(start, end, zone, clock))
        power = Fraction(period.power_w) if period.power_w is not None else energy * 3600 / length
        current = Fraction(period.current_a) if period.current_a is not None else None
        for a, b in pairwise([p_start, *sorted(cuts), p_end]):
            share = energy * (b - a) / length
            pieces.append(_Piece(a, b, share, energy_before, period.charging, power, current))
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


def _select(tariff: Tariff, pieces: list[_Piece], origin: datetime, zone: tzinfo) -> None:
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
                local=(origin + _timedelta(middle)).astimezone(zone),
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
                    piece.lines[dimension] = _Line(index, component, consumed)
                    break
        if TariffDimension.FLAT in piece.lines:
            flat_billed = True


def _bill(tariff: Tariff, pieces: list[_Piece], dimension: TariffDimension) -> DimensionCost:
    """Apply the step sizes to the lines of `dimension`, then price and round them."""
    billed = Fraction(0)
    last: _Line | None = None

    def close_run(line: _Line) -> Fraction:
        stepped = Fraction(ceil(billed / line.component.step_size) * line.component.step_size)
        line.quantity += stepped - billed
        return stepped

    for piece in pieces:
        line = piece.lines.get(dimension)
        if line is not None and line.quantity > 0:
            billed += line.quantity
            last = line
        elif line is None and piece.consumed[dimension] > 0 and last is not None:
            billed, last = close_run(last), None  # consumed where no element prices it
    if last is not None and dimension != TariffDimension.FLAT:
        billed = close_run(last)
    excl = vat = Fraction(0)
    for piece in pieces:
        line = piece.lines.get(dimension)
        if line is None:
            continue
        amount = line.quantity * Fraction(line.component.price) / _UNIT[dimension]
        rate = line.component.vat if line.component.vat is not None else tariff.vat
        excl += amount
        vat += amount * Fraction(rate or 0) / 100
    excl_minor, vat_minor = _minor(excl, tariff.exponent), _minor(vat, tariff.exponent)
    return DimensionCost(int(billed), excl_minor, vat_minor, excl_minor + vat_minor)


def _minor(amount: Fraction, exponent: int) -> int:
    """`amount` in major units, rounded half up (away from zero) to minor units."""
    scaled = abs(amount) * Fraction(10**exponent)
    whole, rest = divmod(scaled.numerator, scaled.denominator)
    whole += 2 * rest >= scaled.denominator
    return whole if amount >= 0 else -whole


def _merge(pieces: list[_Piece], origin: datetime) -> tuple[PricedPeriod, ...]:
    """Consecutive pieces billed by the same elements, joined into CDR charging periods."""
    groups: list[list[_Piece]] = []
    for piece in pieces:
        if groups and _signature(groups[-1][-1]) == _signature(piece):
            groups[-1].append(piece)
        else:
            groups.append([piece])
    periods = []
    for group in groups:
        dimensions = []
        for dimension in TariffDimension:
            lines = [p.lines[dimension] for p in group if dimension in p.lines]
            quantity = sum((line.quantity for line in lines), Fraction(0))
            if quantity > 0:
                line = next(line for line in lines if line.quantity > 0)
                c = line.component
                dimensions.append(
                    BilledDimension(
                        dimension, line.element_index, _decimal(quantity), c.price, c.vat
                    )
                )
        periods.append(
            PricedPeriod(
                start=origin + _timedelta(group[0].start),
                end=origin + _timedelta(group[-1].end),
                charging=group[0].charging,
                energy_wh=_decimal(sum((p.energy_wh for p in group), Fraction(0))),
                dimensions=tuple(dimensions),
            )
        )
    return tuple(periods)


def _signature(piece: _Piece) -> tuple[bool, frozenset[tuple[TariffDimension, int]]]:
    billed = frozenset(
        (d, line.element_index)
        for d, line in piece.lines.items()
        if line.quantity and d != TariffDimension.FLAT  # the fee belongs to whichever period
    )
    return piece.charging, billed


def _decimal(value: Fraction) -> Decimal:
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


def _total(
    tariff: Tariff, dims: dict[TariffDimension, DimensionCost], periods: tuple[PricedPeriod, ...]
) -> SessionCost:
    excl = sum(d.excl_vat for d in dims.values())
    incl = sum(d.incl_vat for d in dims.values())
    limit: PriceLimit | None = None
    exponent = tariff.exponent
    if tariff.min_price is not None:
        floor_excl = _minor(Fraction(tariff.min_price.excl_vat), exponent)
        given = tariff.min_price.incl_vat
        floor_incl = _minor(Fraction(given), exponent) if given is not None else None
        new_excl, new_incl = max(excl, floor_excl), incl
        if floor_incl is not None:
            new_incl = max(incl, floor_incl)
        elif new_excl != excl:
            new_incl = _rescale(tariff, excl, incl, new_excl)
        if (new_excl, new_incl) != (excl, incl):
            excl, incl, limit = new_excl, new_incl, PriceLimit.MIN_PRICE
    if tariff.max_price is not None:
        cap_excl = _minor(Fraction(tariff.max_price.excl_vat), exponent)
        given = tariff.max_price.incl_vat
        cap_incl = _minor(Fraction(given), exponent) if given is not None else None
        new_excl, new_incl = min(excl, cap_excl), incl
        if cap_incl is not None:
            new_incl = min(incl, cap_incl)
        elif new_excl != excl:
            new_incl = _rescale(tariff, excl, incl, new_excl)
        if (new_excl, new_incl) != (excl, incl):
            excl, incl, limit = new_excl, new_incl, PriceLimit.MAX_PRICE
    return SessionCost(
        tariff_id=tariff.id,
        currency=tariff.currency,
        energy=dims[TariffDimension.ENERGY],
        time=dims[TariffDimension.TIME],
        parking_time=dims[TariffDimension.PARKING_TIME],
        flat=dims[TariffDimension.FLAT],
        total_excl_vat=excl,
        total_vat=incl - excl,
        total_incl_vat=incl,
        price_limit=limit,
        periods=periods,
    )


def _rescale(tariff: Tariff, excl: int, incl: int, new_excl: int) -> int:
    """The incl. VAT total for `new_excl`, keeping the session's VAT ratio."""
    if excl > 0:
        return _minor(Fraction(incl * new_excl, excl), 0)
    return _minor(new_excl * (1 + Fraction(tariff.vat or 0) / 100), 0)
