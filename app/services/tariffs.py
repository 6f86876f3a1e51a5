"""Tariffs: OCPI `elements` JSON checked strictly into the domain model, stored, and assigned.

The stored JSON is the OCPI 2.2.1 shape (`price_components`, `restrictions` with `min_power` in
kW, `min_duration` in s, ...), with every decimal written as a string so it round-trips exactly.
"""

from collections.abc import Sequence
from datetime import date, time
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.engine import SessionFactory
from app.db.models import Connector, Evse
from app.db.models import Tariff as TariffRow
from app.domain.errors import InvalidInput, NotFound
from app.domain.tariffs import (
    DayOfWeek,
    Price,
    PriceComponent,
    ReservationRestriction,
    Tariff,
    TariffDimension,
    TariffElement,
    TariffRestrictions,
)

_COMPONENT_KEYS = {"type", "price", "vat", "step_size"}
# OCPI restriction name -> (domain field, parser kind)
_RESTRICTIONS: dict[str, tuple[str, str]] = {
    "start_time": ("start_time", "time"),
    "end_time": ("end_time", "time"),
    "start_date": ("start_date", "date"),
    "end_date": ("end_date", "date"),
    "min_kwh": ("min_kwh", "decimal"),
    "max_kwh": ("max_kwh", "decimal"),
    "min_current": ("min_current_a", "decimal"),
    "max_current": ("max_current_a", "decimal"),
    "min_power": ("min_power_kw", "decimal"),
    "max_power": ("max_power_kw", "decimal"),
    "min_duration": ("min_duration_s", "int"),
    "max_duration": ("max_duration_s", "int"),
    "day_of_week": ("day_of_week", "days"),
    "reservation": ("reservation", "reservation"),
}


def _decimal(path: str, value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidInput(f"{path} must be a number, got {value!r}")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise InvalidInput(f"{path} must be a number, got {value!r}") from None
    if not number.is_finite() or number < 0:
        raise InvalidInput(f"{path} must be a finite number >= 0, got {value!r}")
    return number


def _integer(path: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(f"{path} must be an integer >= 0, got {value!r}")
    return value


def _object(path: str, value: Any, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{path} must be an object, got {value!r}")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise InvalidInput(f"{path} has unknown field(s) {unknown}: expected {sorted(allowed)}")
    return value


def _restriction(path: str, kind: str, value: Any) -> Any:
    try:
        if kind == "time":
            if not isinstance(value, str) or len(value) != 5:
                raise ValueError
            return time.fromisoformat(value)
        if kind == "date":
            if not isinstance(value, str):
                raise ValueError
            return date.fromisoformat(value)
        if kind == "days":
            if not isinstance(value, list) or not value:
                raise ValueError
            return frozenset(DayOfWeek(day) for day in value)
        if kind == "reservation":
            return ReservationRestriction(value)
    except (ValueError, TypeError):
        expected = {
            "time": "a local time HH:MM",
            "date": "a date YYYY-MM-DD",
            "days": f"a non-empty list of {[d.value for d in DayOfWeek]}",
            "reservation": f"one of {[r.value for r in ReservationRestriction]}",
        }[kind]
        raise InvalidInput(f"{path} must be {expected}, got {value!r}") from None
    return _integer(path, value) if kind == "int" else _decimal(path, value)


def _component(path: str, raw: Any) -> PriceComponent:
    data = _object(path, raw, _COMPONENT_KEYS)
    for key in ("type", "price"):
        if key not in data:
            raise InvalidInput(f"{path}.{key} is missing")
    try:
        dimension = TariffDimension(data["type"])
    except ValueError:
        expected = [d.value for d in TariffDimension]
        raise InvalidInput(f"{path}.type must be one of {expected}, got {data['type']!r}") from None
    step = data.get("step_size", 1)
    if isinstance(step, bool) or not isinstance(step, int) or step < 1:
        raise InvalidInput(f"{path}.step_size must be an integer >= 1, got {step!r}")
    vat = data.get("vat")
    vat_value = None if vat is None else _decimal(f"{path}.vat", vat)
    if vat_value is not None and vat_value > 100:
        raise InvalidInput(f"{path}.vat is a percentage from 0 to 100, got {vat!r}")
    return PriceComponent(dimension, _decimal(f"{path}.price", data["price"]), step, vat_value)


def parse_elements(raw: Any) -> tuple[TariffElement, ...]:
    """OCPI `elements` JSON as domain elements; InvalidInput names the first bad field."""
    if not isinstance(raw, list) or not raw:
        raise InvalidInput(f"elements must be a non-empty list, got {raw!r}")
    elements = []
    for i, item in enumerate(raw):
        path = f"elements[{i}]"
        data = _object(path, item, {"price_components", "restrictions"})
        components = data.get("price_components")
        if not isinstance(components, list) or not components:
            raise InvalidInput(f"{path}.price_components must be a non-empty list")
        parsed = tuple(
            _component(f"{path}.price_components[{j}]", c) for j, c in enumerate(components)
        )
        restrictions = None
        if data.get("restrictions") is not None:
            rpath = f"{path}.restrictions"
            given = _object(rpath, data["restrictions"], set(_RESTRICTIONS))
            values = {
                _RESTRICTIONS[k][0]: _restriction(f"{rpath}.{k}", _RESTRICTIONS[k][1], v)
                for k, v in given.items()
                if v is not None
            }
            try:
                restrictions = TariffRestrictions(**values)
            except InvalidInput as exc:
                raise InvalidInput(f"{rpath}: {exc}") from None
        elements.append(TariffElement(parsed, restrictions))
    return tuple(elements)


def _price(path: str, raw: Any) -> Price | None:
    if raw is None:
        return None
    data = _object(path, raw, {"excl_vat", "incl_vat"})
    if "excl_vat" not in data:
        raise InvalidInput(f"{path}.excl_vat is missing")
    incl = data.get("incl_vat")
    try:
        return Price(
            _decimal(f"{path}.excl_vat", data["excl_vat"]),
            None if incl is None else _decimal(f"{path}.incl_vat", incl),
        )
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: {exc}") from None


def _vat(raw: Any) -> Decimal | None:
    if raw is None:
        return None
    vat = _decimal("vat", raw)
    if vat > 100:
        raise InvalidInput(f"vat is a percentage from 0 to 100, got {raw!r}")
    return vat


def tariff_from_row(row: TariffRow) -> Tariff:
    """The domain tariff a stored row describes (its id as text)."""
    return Tariff(
        id=str(row.id),
        currency=row.currency,
        elements=parse_elements(row.elements),
        vat=_vat(row.vat_percent),
        min_price=_price("min_price", row.min_price),
        max_price=_price("max_price", row.max_price),
    )


def _elements_json(elements: Sequence[TariffElement]) -> list[dict[str, Any]]:
    out = []
    for element in elements:
        item: dict[str, Any] = {
            "price_components": [
                {"type": c.type.value, "price": str(c.price), "step_size": c.step_size}
                | ({"vat": str(c.vat)} if c.vat is not None else {})
                for c in element.price_components
            ]
        }
        if element.restrictions is not None:
            restrictions = {}
            for name, (field, _) in _RESTRICTIONS.items():
                value = getattr(element.restrictions, field)
                if value is None or value == frozenset():
                    continue
                if isinstance(value, time):
                    value = value.strftime("%H:%M")
                elif isinstance(value, frozenset):
                    value = sorted(d.value for d in value)
                elif isinstance(value, date | Decimal):
                    value = str(value)
                restrictions[name] = value
            item["restrictions"] = restrictions
        out.append(item)
    return out


def tariff_snapshot(row: TariffRow) -> dict[str, Any]:
    """The stored tariff as JSON, for a CDR to keep the tariff as it was."""
    return {
        "id": str(row.id),
        "name": row.name,
        "currency": row.currency,
        "elements": row.elements,
        "vat": row.vat_percent,
        "min_price": row.min_price,
        "max_price": row.max_price,
    }


async def create_tariff(
    *,
    session_factory: SessionFactory,
    currency: str,
    elements: Any,
    name: str = "",
    vat_percent: Decimal | str | None = None,
    min_price: dict[str, Any] | None = None,
    max_price: dict[str, Any] | None = None,
    operator_id: int | None = None,
) -> TariffRow:
    """Store a tariff after checking it parses (elements in OCPI JSON; prices in major units)."""
    parsed = parse_elements(elements)
    vat = _vat(vat_percent)
    row = TariffRow(
        operator_id=operator_id,
        name=name[:100],
        currency=currency,
        elements=_elements_json(parsed),
        min_price=_price_json(_price("min_price", min_price)),
        max_price=_price_json(_price("max_price", max_price)),
        vat_percent=str(vat) if vat is not None else None,
    )
    tariff_from_row(row)  # currency and the min/max limits are checked by the domain model
    async with session_factory() as db:
        db.add(row)
        await db.commit()
        await db.refresh(row)
    return row


def _price_json(price: Price | None) -> dict[str, Any] | None:
    if price is None:
        return None
    return {"excl_vat": str(price.excl_vat)} | (
        {"incl_vat": str(price.incl_vat)} if price.incl_vat is not None else {}
    )


async def assign_tariff(
    *,
    session_factory: SessionFactory,
    tariff_id: int | None,
    connector_ids: Sequence[int] = (),
    evse_ids: Sequence[int] = (),
    station_ids: Sequence[str] = (),
) -> int:
    """Point connectors (given, or all of the EVSEs / stations given) at a tariff; None clears.

    Returns how many connectors changed. Sessions already running keep the tariff they started on.
    """
    async with session_factory() as db:
        if tariff_id is not None and await db.get(TariffRow, tariff_id) is None:
            raise NotFound("tariff", tariff_id)
        statement = select(Connector).join(Evse, col(Evse.id) == Connector.evse_id)
        conditions = []
        if connector_ids:
            conditions.append(col(Connector.id).in_(connector_ids))
        if evse_ids:
            conditions.append(col(Connector.evse_id).in_(evse_ids))
        if station_ids:
            conditions.append(col(Evse.station_id).in_(station_ids))
        if not conditions:
            raise InvalidInput("assign_tariff needs connector_ids, evse_ids or station_ids")
        rows = (await db.exec(statement.where(or_(*conditions)))).all()
        for row in rows:
            row.tariff_id = tariff_id
        await db.commit()
    return len(rows)


async def tariffs_by_id(*, db: AsyncSession, ids: Sequence[int]) -> list[TariffRow]:
    return list((await db.exec(select(TariffRow).where(col(TariffRow.id).in_(ids)))).all())


def tariff_from_snapshot(snapshot: dict[str, Any]) -> Tariff:
    """The domain tariff a CDR's `tariff_snapshot` kept."""
    return tariff_from_row(
        TariffRow(
            id=int(snapshot["id"]),
            name=snapshot.get("name") or "",
            currency=snapshot["currency"],
            elements=snapshot["elements"],
            vat_percent=snapshot.get("vat"),
            min_price=snapshot.get("min_price"),
            max_price=snapshot.get("max_price"),
        )
    )
