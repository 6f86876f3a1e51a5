"""A priced session: per-dimension costs in minor units, totals within min/max, CDR periods."""

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from fractions import Fraction
from math import ceil

from app.domain.tariffs.model import Tariff, TariffDimension
from app.domain.tariffs.pieces import Line, Piece, to_timedelta

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


def bill(tariff: Tariff, pieces: list[Piece], dimension: TariffDimension) -> DimensionCost:
    """Apply the step sizes to the lines of `dimension`, then price and round them."""
    billed = Fraction(0)
    last: Line | None = None

    def close_run(line: Line) -> Fraction:
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


def merge(pieces: list[Piece], origin: datetime) -> tuple[PricedPeriod, ...]:
    """Consecutive pieces billed by the same elements, joined into CDR charging periods."""
    groups: list[list[Piece]] = []
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
                start=origin + to_timedelta(group[0].start),
                end=origin + to_timedelta(group[-1].end),
                charging=group[0].charging,
                energy_wh=_decimal(sum((p.energy_wh for p in group), Fraction(0))),
                dimensions=tuple(dimensions),
            )
        )
    return tuple(periods)


def _signature(piece: Piece) -> tuple[bool, frozenset[tuple[TariffDimension, int]]]:
    billed = frozenset(
        (d, line.element_index)
        for d, line in piece.lines.items()
        if line.quantity and d != TariffDimension.FLAT  # the fee belongs to whichever period
    )
    return piece.charging, billed


def _decimal(value: Fraction) -> Decimal:
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


def total(
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
