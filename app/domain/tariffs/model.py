"""OCPI 2.2.1 tariff data (Tariff, TariffElement, PriceComponent, restrictions), validated."""

from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal
from enum import StrEnum

from app.domain.errors import InvalidInput

# ISO 4217 minor-unit exponents of the currencies chargenet prices in.
_TWO_DIGITS = (
    "AED AUD BGN BRL CAD CHF CNY CZK DKK EUR GBP HKD HUF ILS INR MXN MYR NOK NZD PLN RON SEK SGD "
    "THB TRY TWD USD ZAR"
)
CURRENCY_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(_TWO_DIGITS.split(" "), 2),
    **dict.fromkeys(("CLP", "ISK", "JPY", "KRW", "VND"), 0),
    **dict.fromkeys(("BHD", "JOD", "KWD", "OMR", "TND"), 3),
}


class TariffDimension(StrEnum):
    """OCPI TariffDimensionType: what a price component charges for, and its unit."""

    ENERGY = "ENERGY"  # price per kWh, step_size in Wh
    FLAT = "FLAT"  # price per session
    PARKING_TIME = "PARKING_TIME"  # price per hour plugged in but not charging, step_size in s
    TIME = "TIME"  # price per hour charging, step_size in s


class DayOfWeek(StrEnum):
    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"


WEEKDAYS: tuple[DayOfWeek, ...] = tuple(DayOfWeek)  # indexed by date.weekday()


class TariffType(StrEnum):
    AD_HOC_PAYMENT = "AD_HOC_PAYMENT"
    PROFILE_CHEAP = "PROFILE_CHEAP"
    PROFILE_FAST = "PROFILE_FAST"
    PROFILE_GREEN = "PROFILE_GREEN"
    REGULAR = "REGULAR"


class ReservationRestriction(StrEnum):
    RESERVATION = "RESERVATION"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"


def _check_amount(name: str, value: Decimal | None) -> None:
    if value is None:
        return
    if not isinstance(value, Decimal) or not value.is_finite():
        raise InvalidInput(f"{name} must be a finite Decimal, got {value!r}")
    if value < 0:
        raise InvalidInput(f"{name} must be >= 0, got {value}")


def _check_vat(name: str, value: Decimal | None) -> None:
    _check_amount(name, value)
    if value is not None and value > 100:
        raise InvalidInput(f"{name} is a percentage from 0 to 100, got {value}")


@dataclass(frozen=True, slots=True)
class Price:
    """An amount in major units of the tariff's currency (OCPI Price)."""

    excl_vat: Decimal
    incl_vat: Decimal | None = None

    def __post_init__(self) -> None:
        _check_amount("price excl_vat", self.excl_vat)
        _check_amount("price incl_vat", self.incl_vat)
        if self.incl_vat is not None and self.incl_vat < self.excl_vat:
            raise InvalidInput(
                f"price incl_vat {self.incl_vat} must be >= excl_vat {self.excl_vat}"
            )


@dataclass(frozen=True, slots=True)
class PriceComponent:
    """Price per unit excl. VAT: per kWh (ENERGY), hour (TIME, PARKING_TIME) or session (FLAT).

    `vat` is a percentage; None means no VAT applies (OCPI: different from 0%). `step_size` is the
    billing block in Wh (ENERGY) or seconds (TIME, PARKING_TIME); FLAT ignores it.
    """

    type: TariffDimension
    price: Decimal
    step_size: int = 1
    vat: Decimal | None = None

    def __post_init__(self) -> None:
        _check_amount(f"{self.type} price", self.price)
        _check_vat(f"{self.type} vat", self.vat)
        if not isinstance(self.step_size, int) or self.step_size < 1:
            raise InvalidInput(
                f"{self.type} step_size must be an integer >= 1, got {self.step_size!r}"
            )


@dataclass(frozen=True, slots=True)
class TariffRestrictions:
    """When an element applies (OCPI TariffRestrictions); every field set must hold.

    Times and dates are local to the location's time zone. `end_time` before `start_time` means
    the window crosses midnight. Ranges include their minimum and exclude their maximum:
    `min_kwh <= energy so far < max_kwh`, likewise current (A, sum over phases), power (kW) and
    duration (s since the session started). `end_date` is exclusive.
    """

    start_time: time | None = None
    end_time: time | None = None
    start_date: date | None = None
    end_date: date | None = None
    min_kwh: Decimal | None = None
    max_kwh: Decimal | None = None
    min_current_a: Decimal | None = None
    max_current_a: Decimal | None = None
    min_power_kw: Decimal | None = None
    max_power_kw: Decimal | None = None
    min_duration_s: int | None = None
    max_duration_s: int | None = None
    day_of_week: frozenset[DayOfWeek] = frozenset()
    reservation: ReservationRestriction | None = None

    def __post_init__(self) -> None:
        for name in ("start_time", "end_time"):
            value = getattr(self, name)
            if value is not None and (
                value.tzinfo is not None or value.second or value.microsecond
            ):
                raise InvalidInput(f"{name} must be a local HH:MM time, got {value!r}")
        if self.start_time is not None and self.start_time == self.end_time:
            raise InvalidInput(
                f"start_time and end_time are both {self.start_time}: an empty window"
            )
        for name in ("min_kwh", "max_kwh", "min_current_a", "max_current_a"):
            _check_amount(name, getattr(self, name))
        for name in ("min_power_kw", "max_power_kw"):
            _check_amount(name, getattr(self, name))
        for name in ("min_duration_s", "max_duration_s"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise InvalidInput(f"{name} must be an integer >= 0, got {value!r}")

    @property
    def uses_clock(self) -> bool:
        """Whether the element switches with local time of day, day of week or date."""
        return bool(
            self.start_time or self.end_time or self.start_date or self.end_date or self.day_of_week
        )


@dataclass(frozen=True, slots=True)
class TariffElement:
    price_components: tuple[PriceComponent, ...]
    restrictions: TariffRestrictions | None = None

    def __post_init__(self) -> None:
        if not self.price_components:
            raise InvalidInput("a tariff element needs at least one price component")

    def component(self, dimension: TariffDimension) -> PriceComponent | None:
        """This element's first price component of `dimension`, if any."""
        return next((c for c in self.price_components if c.type == dimension), None)


@dataclass(frozen=True, slots=True)
class DisplayText:
    language: str
    text: str


@dataclass(frozen=True, slots=True)
class Tariff:
    """An OCPI 2.2.1 tariff; `elements` are tried in order, the first match per dimension wins.

    `vat` is a chargenet extension: the VAT percentage for components that give none, and for
    min/max price adjustments when the limit has no `incl_vat`. Left None, OCPI semantics hold.
    """

    id: str
    currency: str
    elements: tuple[TariffElement, ...]
    type: TariffType | None = None
    vat: Decimal | None = None
    min_price: Price | None = None
    max_price: Price | None = None
    tariff_alt_text: tuple[DisplayText, ...] = ()

    def __post_init__(self) -> None:
        if self.currency not in CURRENCY_EXPONENTS:
            raise InvalidInput(
                f"currency {self.currency!r} is not a supported ISO 4217 code "
                f"(expected one of {', '.join(sorted(CURRENCY_EXPONENTS))})"
            )
        if not self.elements:
            raise InvalidInput(f"tariff {self.id!r} needs at least one element")
        _check_vat("tariff vat", self.vat)

    @property
    def exponent(self) -> int:
        """Digits after the decimal point of the currency's minor unit."""
        return CURRENCY_EXPONENTS[self.currency]
