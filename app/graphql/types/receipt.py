"""Receipts: a finished session's charge detail record (CDR) as the driver sees it."""

from datetime import datetime
from decimal import Decimal
from typing import Any
from weakref import WeakKeyDictionary

import strawberry
from strawberry.dataloader import DataLoader

from app.db import models
from app.domain.tariffs import PriceLimit, TariffDimension
from app.graphql import fields
from app.graphql.context import Info
from app.graphql.loaders import Loaders
from app.graphql.types import node
from app.graphql.types.location import Location
from app.graphql.types.money import Money
from app.graphql.types.tariff import CostLine, Tariff, money
from app.services import receipts
from app.services.tariffs import tariff_from_snapshot

CHARGING_SESSION = "ChargingSession"

_LINES = (
    ("energy", TariffDimension.ENERGY),
    ("time", TariffDimension.TIME),
    ("parking_time", TariffDimension.PARKING_TIME),
    ("flat", TariffDimension.FLAT),
)


@strawberry.type(description="What one charging period billed of one dimension (OCPI).")
class CdrDimension:
    type: TariffDimension
    volume: Decimal = strawberry.field(description="kWh (ENERGY), hours (TIME...), 1 (FLAT).")
    price: Decimal | None = strawberry.field(description="Per unit excl. VAT; null unpriced.")
    vat: Decimal | None


@strawberry.type(description="A stretch of the session billed by the same tariff elements.")
class CdrChargingPeriod:
    start_date_time: datetime
    end_date_time: datetime
    charging: bool = strawberry.field(description="False: plugged in but idle.")
    dimensions: list[CdrDimension]

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> "CdrChargingPeriod":
        return cls(
            start_date_time=datetime.fromisoformat(value["start_date_time"]),
            end_date_time=datetime.fromisoformat(value["end_date_time"]),
            charging=bool(value["charging"]),
            dimensions=[
                CdrDimension(
                    type=TariffDimension(d["type"]),
                    volume=Decimal(d["volume"]),
                    price=Decimal(d["price"]) if d.get("price") is not None else None,
                    vat=Decimal(d["vat"]) if d.get("vat") is not None else None,
                )
                for d in value["dimensions"]
            ],
        )


@strawberry.type(description="The receipt of a finished session (an OCPI-style CDR).")
class Receipt:
    session_id: strawberry.ID = strawberry.field(description="The ChargingSession's global id.")
    receipt_token: str = strawberry.field(description="Opaque token for sharing the receipt.")
    station_identity: str
    evse_uid: str
    id_token: str | None = strawberry.field(description="The token that authorised it.")
    started_at: datetime
    ended_at: datetime
    energy_wh: int
    charging_time_seconds: int
    idle_time_seconds: int = strawberry.field(description="Plugged in but not charging.")
    stop_reason: str | None
    total_excl_vat: Money
    total_vat: Money
    total_incl_vat: Money
    breakdown: list[CostLine] = strawberry.field(description="Per dimension; sums to the totals.")
    price_limit: PriceLimit | None = strawberry.field(
        description="Set when the tariff's min or max price changed the totals."
    )
    tariff: Tariff | None = strawberry.field(description="The tariff as it was; null: free.")
    charging_periods: list[CdrChargingPeriod]
    location_key: strawberry.Private[int | None]

    @fields.field(description="Energy delivered, kWh.")
    def energy_kwh(self) -> float:
        return self.energy_wh / 1000

    @strawberry.field
    async def location(self, info: Info) -> Location | None:
        if self.location_key is None:
            return None
        row = await info.context.loaders.location.load(self.location_key)
        return Location.from_row(row) if row is not None else None

    @classmethod
    def from_row(cls, row: models.Cdr) -> "Receipt":
        currency = row.currency
        breakdown = row.cost_breakdown
        lines = []
        for key, dimension in _LINES:
            line = breakdown[key]
            lines.append(
                CostLine(
                    dimension=dimension,
                    billed_quantity=line["billed_quantity"],
                    excl_vat=money(line["excl_vat_minor"], currency),
                    vat=money(line["vat_minor"], currency),
                    incl_vat=money(line["incl_vat_minor"], currency),
                )
            )
        limit = breakdown.get("price_limit")
        return cls(
            session_id=strawberry.ID(str(node.global_id(CHARGING_SESSION, row.session_id))),
            receipt_token=row.receipt_token or "",
            station_identity=row.station_id,
            evse_uid=row.evse_uid,
            id_token=row.id_token,
            started_at=row.started_at,
            ended_at=row.ended_at,
            energy_wh=row.energy_wh,
            charging_time_seconds=row.charging_time_s,
            idle_time_seconds=row.idle_time_s,
            stop_reason=row.stop_reason,
            total_excl_vat=money(row.total_excl_vat_minor, currency),
            total_vat=money(row.total_vat_minor, currency),
            total_incl_vat=money(row.total_incl_vat_minor, currency),
            breakdown=lines,
            price_limit=PriceLimit(limit) if limit else None,
            tariff=Tariff.from_domain(tariff_from_snapshot(row.tariff)) if row.tariff else None,
            charging_periods=[CdrChargingPeriod.from_json(p) for p in row.charging_periods],
            location_key=row.location_id,
        )


# One receipt loader per operation's Loaders (replaced per operation), without touching Loaders.
_LOADERS: "WeakKeyDictionary[Loaders, DataLoader[int, models.Cdr | None]]" = WeakKeyDictionary()


async def load_receipt(info: Info, session_id: int) -> Receipt | None:
    """The receipt of a session, batched per operation; None while it has no CDR."""
    loaders = info.context.loaders
    loader = _LOADERS.get(loaders)
    if loader is None:
        session_factory = info.context.session_factory

        async def load(ids: list[int]) -> list[models.Cdr | None]:
            rows = await receipts.cdrs_by_session(session_factory=session_factory, session_ids=ids)
            found = {row.session_id: row for row in rows}
            return [found.get(i) for i in ids]

        loader = _LOADERS[loaders] = DataLoader(load_fn=load)
    cdr = await loader.load(session_id)
    return Receipt.from_row(cdr) if cdr is not None else None
