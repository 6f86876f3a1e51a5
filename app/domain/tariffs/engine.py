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
from datetime import UTC, datetime, timedelta, tzinfo
from fractions import Fraction
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.domain.errors import InvalidInput
from app.domain.tariffs.cost import SessionCost, bill, merge, total
from app.domain.tariffs.model import Tariff, TariffDimension
from app.domain.tariffs.pieces import cut, select, to_timedelta
from app.domain.tariffs.timeline import ChargingPeriod, require_aware


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
    pieces = cut(tariff, periods, origin, zone)
    select(tariff, pieces, origin, zone)
    dims = {d: bill(tariff, pieces, d) for d in TariffDimension}
    return total(tariff, dims, merge(pieces, origin))


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
    stop = start + to_timedelta(charging_s)
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
