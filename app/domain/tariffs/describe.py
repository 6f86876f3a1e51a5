"""A tariff in words for drivers: "€0.35/kWh, €0.10/min idle after 1 h, €1.00 session fee"."""

from datetime import time
from decimal import Decimal

from app.domain.errors import InvalidInput
from app.domain.tariffs.model import (
    WEEKDAYS,
    PriceComponent,
    Tariff,
    TariffDimension,
    TariffRestrictions,
)

_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def describe_tariff(tariff: Tariff, locale: str = "en") -> str:
    """One line per tariff: its elements in order, `; `-separated; prices excl. VAT."""
    if locale != "en":
        raise InvalidInput(f"locale {locale!r} is not supported (expected 'en')")
    parts = []
    for element in tariff.elements:
        prices = ", ".join(_component(tariff, c) for c in element.price_components)
        conditions = _conditions(element.restrictions) if element.restrictions else ""
        parts.append(f"{prices} {conditions}".strip())
    if tariff.min_price is not None:
        parts.append(f"minimum {_money(tariff, tariff.min_price.excl_vat)}")
    if tariff.max_price is not None:
        parts.append(f"maximum {_money(tariff, tariff.max_price.excl_vat)}")
    return "; ".join(parts)


def _money(tariff: Tariff, amount: Decimal) -> str:
    minor = Decimal(1).scaleb(-tariff.exponent)
    shown = amount.quantize(minor) if amount == amount.quantize(minor) else amount.normalize()
    symbol = _SYMBOLS.get(tariff.currency)
    return f"{symbol}{shown:f}" if symbol else f"{shown:f} {tariff.currency}"


def _component(tariff: Tariff, c: PriceComponent) -> str:
    if c.type == TariffDimension.FLAT:
        return f"{_money(tariff, c.price)} session fee"
    if c.type == TariffDimension.ENERGY:
        step = f" (billed per {_energy(c.step_size)})" if c.step_size > 1 else ""
        return f"{_money(tariff, c.price)}/kWh{step}"
    minor = Decimal(1).scaleb(-tariff.exponent)
    per_minute = c.price / 60
    by_minute = per_minute == per_minute.quantize(minor)
    rate = f"{_money(tariff, per_minute)}/min" if by_minute else f"{_money(tariff, c.price)}/h"
    what = " charging" if c.type == TariffDimension.TIME else " idle"
    # a step of the unit shown ("/min" billed per minute) goes without saying
    silent = c.step_size == 1 or (by_minute and c.step_size == 60)
    step = "" if silent else f" (billed per {_duration(c.step_size)})"
    return f"{rate}{what}{step}"


def _energy(wh: Decimal | int) -> str:
    return f"{Decimal(wh) / 1000:f} kWh" if wh >= 1000 else f"{wh} Wh"


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


def _hhmm(t: time) -> str:
    return t.strftime("%H:%M")


def _conditions(r: TariffRestrictions) -> str:
    words = []
    if r.reservation is not None:
        words.append(f"for {r.reservation.lower().replace('_', ' ')}")
    if r.day_of_week:
        days = sorted(WEEKDAYS.index(d) for d in r.day_of_week)
        contiguous = len(days) > 2 and days == list(range(days[0], days[-1] + 1))
        names = [_DAY_NAMES[d] for d in days]
        words.append(f"{names[0]}-{names[-1]}" if contiguous else ", ".join(names))
    if r.start_time is not None and r.end_time is not None:
        words.append(f"{_hhmm(r.start_time)}-{_hhmm(r.end_time)}")
    elif r.start_time is not None:
        words.append(f"from {_hhmm(r.start_time)}")
    elif r.end_time is not None:
        words.append(f"until {_hhmm(r.end_time)}")
    if r.start_date is not None:
        words.append(f"from {r.start_date.isoformat()}")
    if r.end_date is not None:
        words.append(f"before {r.end_date.isoformat()}")
    if r.min_kwh is not None:
        words.append(f"after {_energy(r.min_kwh * 1000)}")
    if r.max_kwh is not None:
        words.append(f"for the first {_energy(r.max_kwh * 1000)}")
    if r.min_power_kw is not None:
        words.append(f"at {r.min_power_kw.normalize():f} kW or more")
    if r.max_power_kw is not None:
        words.append(f"below {r.max_power_kw.normalize():f} kW")
    if r.min_current_a is not None:
        words.append(f"at {r.min_current_a.normalize():f} A or more")
    if r.max_current_a is not None:
        words.append(f"below {r.max_current_a.normalize():f} A")
    if r.min_duration_s is not None:
        words.append(f"after {_duration(r.min_duration_s)}")
    if r.max_duration_s is not None:
        words.append(f"in the first {_duration(r.max_duration_s)}")
    return " ".join(words)
