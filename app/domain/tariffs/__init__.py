"""The pricing engine on the OCPI 2.2.1 tariff model: tariffs, session timelines, exact costs."""

from app.domain.tariffs.cost import (
    BilledDimension,
    DimensionCost,
    PricedPeriod,
    PriceLimit,
    SessionCost,
)
from app.domain.tariffs.describe import describe_tariff
from app.domain.tariffs.engine import estimate_cost, price_session
from app.domain.tariffs.model import (
    CURRENCY_EXPONENTS,
    DayOfWeek,
    DisplayText,
    Price,
    PriceComponent,
    ReservationRestriction,
    Tariff,
    TariffDimension,
    TariffElement,
    TariffRestrictions,
    TariffType,
)
from app.domain.tariffs.timeline import ChargingPeriod, MeterSample, periods_from_meter

__all__ = [
    "CURRENCY_EXPONENTS",
    "BilledDimension",
    "ChargingPeriod",
    "DayOfWeek",
    "DimensionCost",
    "DisplayText",
    "MeterSample",
    "Price",
    "PriceComponent",
    "PriceLimit",
    "PricedPeriod",
    "ReservationRestriction",
    "SessionCost",
    "Tariff",
    "TariffDimension",
    "TariffElement",
    "TariffRestrictions",
    "TariffType",
    "describe_tariff",
    "estimate_cost",
    "periods_from_meter",
    "price_session",
]
