"""Tariffs (OCPI 2.2.1) in the API: typed elements, a summary in words, and price estimates."""

from collections.abc import Awaitable
from datetime import datetime
from decimal import Decimal

import strawberry

from app.domain import tariffs as domain
from app.domain.tariffs import (
    DayOfWeek,
    DimensionCost,
    PriceLimit,
    ReservationRestriction,
    TariffDimension,
)
from app.graphql.context import Info
from app.graphql.types import node
from app.graphql.types.money import Money

TARIFF = "Tariff"

strawberry.enum(TariffDimension, description="What a price component charges for (OCPI).")
strawberry.enum(DayOfWeek)
strawberry.enum(ReservationRestriction)
strawberry.enum(PriceLimit, description="Which bound of the tariff changed a total.")


def tariff_view(info: Info, tariff_id: int) -> "Tariff | Awaitable[Tariff | None] | None":
    """The API view of a stored tariff: at once when this operation already loaded it (a page's
    tariffs are prefetched), else an awaitable batched through the operation's loader."""
    loaders = info.context.loaders
    if tariff_id in loaders.tariffs:
        return _view(info, tariff_id, loaders.tariffs[tariff_id])
    return load_tariff(info, tariff_id)


async def load_tariff(info: Info, tariff_id: int | None) -> "Tariff | None":
    """The API view of a stored tariff, batched per operation."""
    if tariff_id is None:
        return None
    return _view(info, tariff_id, await info.context.loaders.tariff.load(tariff_id))


def _view(info: Info, tariff_id: int, tariff: domain.Tariff | None) -> "Tariff | None":
    """Built once per operation: 150 connectors sharing a tariff share one object."""
    views = info.context.loaders.views
    key = (TARIFF, tariff_id)
    if key not in views:
        views[key] = Tariff.from_domain(tariff) if tariff is not None else None
    view: Tariff | None = views[key]
    return view


def money(amount_minor: int, currency: str) -> Money:
    return Money(amount_minor=amount_minor, currency=currency)


@strawberry.type(description="A price per unit excl. VAT: per kWh, per hour or per session.")
class PriceComponent:
    type: TariffDimension
    price: Decimal = strawberry.field(
        description="Major units excl. VAT per kWh (ENERGY), hour (TIME, PARKING_TIME), session."
    )
    vat: Decimal | None = strawberry.field(description="VAT %, null: the tariff's VAT.")
    step_size: int = strawberry.field(description="Billing block: Wh (ENERGY) or s (TIME...).")


@strawberry.type(description="When an element applies; local times and dates; every field set.")
class TariffRestrictions:
    start_time: str | None = strawberry.field(description="Local HH:MM.")
    end_time: str | None = strawberry.field(description="Local HH:MM; before start: overnight.")
    start_date: str | None
    end_date: str | None = strawberry.field(description="Exclusive.")
    min_kwh: Decimal | None
    max_kwh: Decimal | None
    min_current_a: Decimal | None
    max_current_a: Decimal | None
    min_power_kw: Decimal | None
    max_power_kw: Decimal | None
    min_duration_seconds: int | None
    max_duration_seconds: int | None
    day_of_week: list[DayOfWeek]
    reservation: ReservationRestriction | None

    @classmethod
    def from_domain(cls, r: domain.TariffRestrictions) -> "TariffRestrictions":
        return cls(
            start_time=r.start_time.strftime("%H:%M") if r.start_time else None,
            end_time=r.end_time.strftime("%H:%M") if r.end_time else None,
            start_date=r.start_date.isoformat() if r.start_date else None,
            end_date=r.end_date.isoformat() if r.end_date else None,
            min_kwh=r.min_kwh,
            max_kwh=r.max_kwh,
            min_current_a=r.min_current_a,
            max_current_a=r.max_current_a,
            min_power_kw=r.min_power_kw,
            max_power_kw=r.max_power_kw,
            min_duration_seconds=r.min_duration_s,
            max_duration_seconds=r.max_duration_s,
            day_of_week=sorted(r.day_of_week, key=list(DayOfWeek).index),
            reservation=r.reservation,
        )


@strawberry.type(description="Price components and when they apply; the first match wins.")
class TariffElement:
    price_components: list[PriceComponent]
    restrictions: TariffRestrictions | None


@strawberry.type(description="A tariff on the OCPI 2.2.1 model; prices in major units.")
class Tariff:
    id: strawberry.ID
    currency: str
    summary: str = strawberry.field(description="In words, excl. VAT: '€0.39/kWh, ...'.")
    vat_percent: Decimal | None = strawberry.field(description="VAT % where a component has none.")
    elements: list[TariffElement]
    min_price_excl_vat: Decimal | None
    max_price_excl_vat: Decimal | None

    @classmethod
    def from_domain(cls, tariff: domain.Tariff) -> "Tariff":
        return cls(
            id=strawberry.ID(str(node.global_id(TARIFF, tariff.id))),
            currency=tariff.currency,
            summary=domain.describe_tariff(tariff),
            vat_percent=tariff.vat,
            elements=[
                TariffElement(
                    price_components=[
                        PriceComponent(type=c.type, price=c.price, vat=c.vat, step_size=c.step_size)
                        for c in e.price_components
                    ],
                    restrictions=(
                        TariffRestrictions.from_domain(e.restrictions) if e.restrictions else None
                    ),
                )
                for e in tariff.elements
            ],
            min_price_excl_vat=tariff.min_price.excl_vat if tariff.min_price else None,
            max_price_excl_vat=tariff.max_price.excl_vat if tariff.max_price else None,
        )


@strawberry.type(description="One dimension of a bill.")
class CostLine:
    dimension: TariffDimension
    billed_quantity: int = strawberry.field(
        description="Wh (ENERGY), seconds (TIME, PARKING_TIME) or sessions (FLAT), steps included."
    )
    excl_vat: Money
    vat: Money
    incl_vat: Money

    @classmethod
    def from_cost(
        cls, dimension: TariffDimension, cost: DimensionCost, currency: str
    ) -> "CostLine":
        return cls(
            dimension=dimension,
            billed_quantity=cost.billed_quantity,
            excl_vat=money(cost.excl_vat, currency),
            vat=money(cost.vat, currency),
            incl_vat=money(cost.incl_vat, currency),
        )


def cost_lines(cost: domain.SessionCost) -> list[CostLine]:
    pairs = (
        (TariffDimension.ENERGY, cost.energy),
        (TariffDimension.TIME, cost.time),
        (TariffDimension.PARKING_TIME, cost.parking_time),
        (TariffDimension.FLAT, cost.flat),
    )
    return [CostLine.from_cost(d, c, cost.currency) for d, c in pairs]


@strawberry.type(description="What a session would cost: charging at full power, then idle.")
class PriceEstimate:
    tariff: Tariff
    starts_at: datetime
    time_zone: str = strawberry.field(description="The location's IANA zone, for the restrictions.")
    charging_power_kw: float = strawberry.field(description="The connector's maximum power.")
    total_excl_vat: Money
    total_vat: Money
    total_incl_vat: Money
    breakdown: list[CostLine]
    price_limit: PriceLimit | None
