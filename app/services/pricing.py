"""Prices of sessions: the tariff a session starts on, its cost so far, quotes before charging.

A session is priced on its own stored samples (Energy.Active.Import.Register and
Power.Active.Import only, one query), compacted (see `session_timeline`) before pricing.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import case
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.engine import SessionFactory
from app.db.models import ChargingSession, ChargingStation, Connector, Evse, Location
from app.db.models import MeterSample as SampleRow
from app.db.models import Tariff as TariffRow
from app.domain.errors import InvalidInput, NotFound
from app.domain.tariffs import (
    SessionCost,
    Tariff,
    estimate_cost,
    price_session,
)
from app.services.live_cost import PricedSession, live_cost
from app.services.memberships_pricing import member_tariff
from app.services.session_timeline import compact_periods, energy_samples, session_segments
from app.services.tariffs import tariff_from_row

log = logging.getLogger(__name__)

DEFAULT_CURRENCY = "EUR"  # the operator default for sessions without a tariff


async def location_time_zone(db: AsyncSession, station_id: str) -> str:
    """The IANA zone of a station's location; UTC for a station without one."""
    statement = (
        select(Location.time_zone)
        .join(ChargingStation, col(ChargingStation.location_id) == Location.id)
        .where(ChargingStation.id == station_id)
    )
    return (await db.exec(statement)).first() or "UTC"


async def connector_tariff(
    db: AsyncSession, *, evse_id: int, ocpp_connector_id: int | None = None
) -> TariffRow | None:
    """The tariff of the EVSE's connector `ocpp_connector_id`, else of its first priced one."""
    wanted = case((col(Connector.ocpp_connector_id) == (ocpp_connector_id or 1), 0), else_=1)
    statement = (
        select(TariffRow)
        .join(Connector, col(Connector.tariff_id) == TariffRow.id)
        .where(Connector.evse_id == evse_id)
        .order_by(wanted, col(Connector.ocpp_connector_id))
        .limit(1)
    )
    return (await db.exec(statement)).first()


async def attach_tariff(db: AsyncSession, session: ChargingSession) -> None:
    """Fix the tariff a session is priced on: its connector's, at the moment it starts (or
    the plan's, for a driver with an active membership: `memberships_pricing`).

    `currency` doubles as the marker that this ran (it is set even without a tariff).
    """
    await _attach_tariff(db, session)


_Attached = tuple[TariffRow, str]  # the tariff row and the IANA zone of the session's location


async def _attach_tariff(db: AsyncSession, session: ChargingSession) -> _Attached | None:
    """`attach_tariff`, returning the row and the zone it is priced in (one query for both):
    the session's first pricing needs them, and the row may be gone from the (weak) identity
    map by then."""
    wanted = case(
        (col(Connector.ocpp_connector_id) == (session.ocpp_connector_id or 1), 0), else_=1
    )
    zone = (
        select(Location.time_zone)
        .join(ChargingStation, col(ChargingStation.location_id) == Location.id)
        .where(ChargingStation.id == session.station_id)
        .scalar_subquery()
    )
    statement = (
        select(TariffRow, zone)
        .join(Connector, col(Connector.tariff_id) == TariffRow.id)
        .where(Connector.evse_id == session.evse_id)
        .order_by(wanted, col(Connector.ocpp_connector_id))
        .limit(1)
    )
    found = (await db.exec(statement)).first()
    row = await member_tariff(
        db,
        driver_id=session.driver_id,
        station_id=session.station_id,
        tariff=found[0] if found is not None else None,
    )
    session.tariff_id = row.id if row is not None else None
    session.currency = row.currency if row is not None else DEFAULT_CURRENCY
    session.cost_incl_vat_minor = 0
    if row is None or found is None:
        return None
    return row, found[1] or "UTC"


async def session_cost(
    db: AsyncSession, session: ChargingSession, *, until: datetime | None = None
) -> tuple[Tariff | None, SessionCost | None]:
    """The session's tariff and its price over its samples (None when there is nothing to price)."""
    if session.tariff_id is None or session.id is None:
        return None, None
    row = await db.get(TariffRow, session.tariff_id)
    if row is None:
        return None, None
    tariff = tariff_from_row(row)
    segments = session_segments(session, await energy_samples(db, session.id), until=until)
    if not segments:
        return tariff, None
    zone = await location_time_zone(db, session.station_id)
    compact = compact_periods(tariff, segments, ZoneInfo(zone))
    return tariff, price_session(tariff, compact, time_zone=zone)


async def update_live_cost(
    db: AsyncSession, session: ChargingSession, *, new_session: bool = False
) -> None:
    """Write the cost so far on an active session, after new meter values (same transaction).

    Priced from the session's running state (`live_cost`): the rows added since the last
    message, not the whole timeline; exactly what `session_cost` would give. `new_session`:
    the session was inserted in this transaction with no samples, so none are read.

    Never fails the OCPP message it runs for: bad data is logged and the cost left as it was.
    """
    attached = None
    if session.currency is None:  # a new session, or one started by another path
        attached = await _attach_tariff(db, session)
    await price_so_far(db, session, new_session=new_session, attached=attached)


class LivePricedSession(PricedSession, Protocol):
    """A session whose cost so far is written on it (`ChargingSession` or `LiveSession`)."""

    currency: str | None
    cost_incl_vat_minor: int | None


async def price_so_far(
    db: AsyncSession,
    session: LivePricedSession,
    *,
    new_session: bool = False,
    attached: _Attached | None = None,
) -> None:
    """`update_live_cost` for a session whose tariff is already attached (`currency` set).

    `attached`: its tariff row and zone, when the caller has just read them."""
    if session.tariff_id is None:
        return
    if any(isinstance(obj, SampleRow) for obj in db.new):
        await db.flush()  # samples added as objects must be in the query (Core inserts are)
    with db.no_autoflush:  # the session's own changes go in one UPDATE with its cost, later
        await _price_so_far(db, session, new_session=new_session, attached=attached)


async def _price_so_far(
    db: AsyncSession, session: LivePricedSession, *, new_session: bool, attached: _Attached | None
) -> None:

    async def load() -> tuple[Tariff, tzinfo, str] | None:
        if attached is not None and attached[0].id == session.tariff_id:
            row, zone = attached
        else:
            found = await db.get(TariffRow, session.tariff_id)
            if found is None:
                return None
            row, zone = found, await location_time_zone(db, session.station_id)
        return tariff_from_row(row), ZoneInfo(zone), zone

    try:
        cost = await live_cost(db, session, load=load, no_rows=new_session)
    except InvalidInput:
        log.warning("cannot price session %s so far", session.id, exc_info=True)
        return
    if cost is not None:
        session.cost_incl_vat_minor = cost.total_incl_vat
        session.currency = cost.currency


@dataclass(frozen=True, slots=True)
class PriceQuote:
    tariff: Tariff
    cost: SessionCost
    time_zone: str
    max_power_w: int


async def estimate_price(
    *,
    session_factory: SessionFactory,
    evse_id: int,
    energy_wh: int,
    duration_s: int,
    now: datetime | None = None,
) -> PriceQuote:
    """What `energy_wh` over `duration_s` would cost on an EVSE, starting now, local time.

    The EV is taken to charge at the connector's maximum power, then stay plugged in idle.
    """
    if energy_wh <= 0:
        raise InvalidInput(f"kwh must be > 0, got {energy_wh / 1000:g}")
    if duration_s <= 0:
        raise InvalidInput(f"minutes must be > 0, got {duration_s // 60}")
    async with session_factory() as db:
        evse = await db.get(Evse, evse_id)
        if evse is None:
            raise NotFound("EVSE", evse_id)
        connectors = (await db.exec(select(Connector).where(Connector.evse_id == evse_id))).all()
        max_power_w = max((c.max_electric_power for c in connectors), default=0)
        row = await connector_tariff(db, evse_id=evse_id)
        if row is None:
            raise NotFound("tariff of EVSE", evse.uid)
        zone = await location_time_zone(db, evse.station_id)
    if max_power_w <= 0:
        raise InvalidInput(f"EVSE {evse.uid!r} has no connector with a known maximum power")
    if energy_wh * 3600 > max_power_w * duration_s:
        fits = max_power_w * duration_s / 3_600_000
        raise InvalidInput(
            f"{energy_wh / 1000:g} kWh does not fit in {duration_s // 60} min at this EVSE's "
            f"{max_power_w / 1000:g} kW: at most {fits:.2f} kWh"
        )
    tariff = tariff_from_row(row)
    cost = estimate_cost(
        tariff,
        energy_wh=energy_wh,
        duration_s=duration_s,
        start=now or datetime.now(UTC),
        time_zone=zone,
        power_w=max_power_w,
    )
    return PriceQuote(tariff, cost, zone, max_power_w)
