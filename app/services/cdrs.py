"""Charge detail records: written in the transaction that ends a session; receipts read them.

`write_cdr` must be called by every path that completes a session (OCPP 1.6 StopTransaction,
2.0.1 TransactionEvent Ended, a backend that closes stale sessions), before its commit, so a
session is never COMPLETED without the record that prices it. It is idempotent: the CDR's
`session_id` is unique and a second call returns the first record.

Charging periods are OCPI-style: `start_date_time`, `end_date_time` (an extension),
`charging`, and `dimensions` with `volume` in OCPI units (ENERGY kWh, TIME and PARKING_TIME
hours, FLAT 1), plus the `price` (excl. VAT, per unit) and `vat` that billed it.
"""

import logging
import secrets
from collections.abc import Sequence
from decimal import Decimal
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.models import Cdr, ChargingSession, ChargingStation, Evse, IdToken, Location
from app.db.models import MeterSample as SampleRow
from app.db.models import Tariff as TariffRow
from app.domain.enums import SessionStatus
from app.domain.errors import InvalidInput
from app.domain.id_tokens import canonical_uid
from app.domain.tariffs import DimensionCost, SessionCost, TariffDimension, price_session
from app.services.payments_settlement import mark_capture_pending
from app.services.pricing import DEFAULT_CURRENCY, attach_tariff, update_live_cost
from app.services.session_timeline import (
    Segment,
    compact_periods,
    energy_samples,
    session_segments,
)
from app.services.tariffs import tariff_from_row, tariff_snapshot

log = logging.getLogger(__name__)

_VOLUME_UNIT = {  # quantity (Wh, s, sessions) per OCPI volume unit (kWh, h, session)
    TariffDimension.ENERGY: 1000,
    TariffDimension.TIME: 3600,
    TariffDimension.PARKING_TIME: 3600,
    TariffDimension.FLAT: 1,
}


def _volume(dimension: TariffDimension, quantity: Decimal | int) -> str:
    value = (Decimal(quantity) / _VOLUME_UNIT[dimension]).quantize(Decimal("0.000001"))
    return f"{value.normalize():f}"


def _dimension_json(cost: DimensionCost) -> dict[str, int]:
    return {
        "billed_quantity": cost.billed_quantity,
        "excl_vat_minor": cost.excl_vat,
        "vat_minor": cost.vat,
        "incl_vat_minor": cost.incl_vat,
    }


def breakdown_json(cost: SessionCost | None) -> dict[str, Any]:
    """The per-dimension bill (quantities in Wh, s, sessions; amounts in minor units)."""
    zero = DimensionCost(0, 0, 0, 0)
    return {
        "energy": _dimension_json(cost.energy if cost else zero),
        "time": _dimension_json(cost.time if cost else zero),
        "parking_time": _dimension_json(cost.parking_time if cost else zero),
        "flat": _dimension_json(cost.flat if cost else zero),
        "price_limit": cost.price_limit.value if cost and cost.price_limit else None,
    }


def _priced_periods(cost: SessionCost) -> list[dict[str, Any]]:
    return [
        {
            "start_date_time": p.start.isoformat(),
            "end_date_time": p.end.isoformat(),
            "charging": p.charging,
            "dimensions": [
                {
                    "type": d.type.value,
                    "volume": _volume(d.type, d.quantity),
                    "price": str(d.price),
                    "vat": str(d.vat) if d.vat is not None else None,
                }
                for d in p.dimensions
            ],
        }
        for p in cost.periods
    ]


def _unpriced_periods(segments: list[Segment]) -> list[dict[str, Any]]:
    periods = []
    for charging, run in groupby(segments, key=lambda s: s.charging):
        items = list(run)
        seconds = (items[-1].end - items[0].start).total_seconds()
        time_type = TariffDimension.TIME if charging else TariffDimension.PARKING_TIME
        dimensions = [{"type": time_type.value, "volume": _volume(time_type, int(seconds))}]
        energy = sum(s.energy_wh for s in items)
        if energy:
            dimensions.insert(
                0, {"type": "ENERGY", "volume": _volume(TariffDimension.ENERGY, energy)}
            )
        periods.append(
            {
                "start_date_time": items[0].start.isoformat(),
                "end_date_time": items[-1].end.isoformat(),
                "charging": charging,
                "dimensions": dimensions,
            }
        )
    return periods


def _seconds(segments: list[Segment], *, charging: bool) -> int:
    return round(sum((s.end - s.start).total_seconds() for s in segments if s.charging == charging))


def _context_statement() -> Any:
    """One row of what a CDR needs beside the session's samples: its EVSE's uid, station's
    location and zone, the tariff :tariff_id, the driver of the token :token_uid, and the id
    of a CDR already written. Every join is outer: a missing row leaves its columns None."""
    session: Any = ChargingSession.__table__  # type: ignore[attr-defined]
    evse: Any = Evse.__table__  # type: ignore[attr-defined]
    station: Any = ChargingStation.__table__  # type: ignore[attr-defined]
    location: Any = Location.__table__  # type: ignore[attr-defined]
    tariff: Any = TariffRow.__table__  # type: ignore[attr-defined]
    cdr: Any = Cdr.__table__  # type: ignore[attr-defined]
    token: Any = IdToken.__table__  # type: ignore[attr-defined]
    joined = (
        session.outerjoin(evse, evse.c.id == session.c.evse_id)
        .outerjoin(station, station.c.id == session.c.station_id)
        .outerjoin(location, location.c.id == station.c.location_id)
        .outerjoin(cdr, cdr.c.session_id == session.c.id)
        .outerjoin(token, token.c.uid == sa.bindparam("token_uid", type_=token.c.uid.type))
        .outerjoin(tariff, tariff.c.id == sa.bindparam("tariff_id", type_=tariff.c.id.type))
    )
    return (
        sa.select(
            evse.c.uid,
            station.c.location_id,
            location.c.time_zone,
            cdr.c.id,
            token.c.driver_id,
            *(tariff.c[name] for name in _TARIFF_COLUMNS),
        )
        .select_from(joined)
        .where(session.c.id == sa.bindparam("session_id"))
    )


_TARIFF_COLUMNS = tuple(TariffRow.model_fields)
_CONTEXT = _context_statement()  # built once: every stop runs it


def _tariff_row(values: Sequence[Any]) -> TariffRow | None:
    """The tariff's columns as a (transient) row, None when the join found none."""
    if values[0] is None:
        return None
    return TariffRow(**dict(zip(_TARIFF_COLUMNS, values, strict=True)))


def _price(row: TariffRow, segments: list[Segment], zone: str) -> SessionCost | None:
    """What `pricing.session_cost` gives, on the segments and zone the CDR has read."""
    tariff = tariff_from_row(row)
    if not segments:
        return None
    return price_session(tariff, compact_periods(tariff, segments, ZoneInfo(zone)), time_zone=zone)


async def write_cdr(db: AsyncSession, session: ChargingSession) -> Cdr:
    """The CDR of a session just completed (`ended_at` set), added to `db`'s transaction.

    Sets the session's final `cost_incl_vat_minor` and `currency` to the CDR's. A session
    without a tariff gets a CDR at zero cost in the operator's default currency.

    Reads its context in one statement and its samples in one more, without flushing: the
    session's changes go in one UPDATE with the CDR's INSERT, at the caller's commit.
    """
    assert session.id is not None
    assert session.ended_at is not None
    for pending in db.new:  # written earlier in this transaction, not flushed yet
        if isinstance(pending, Cdr) and pending.session_id == session.id:
            return pending
    if any(isinstance(obj, SampleRow) for obj in db.new):
        await db.flush()  # samples added as objects must be in the query (Core inserts are)
    with db.no_autoflush:
        cdr, stored = await _stored_or_new_cdr(db, session)
    if stored:
        return cdr
    db.add(cdr)
    session.currency = cdr.currency
    session.cost_incl_vat_minor = cdr.total_incl_vat_minor
    await mark_capture_pending(db, session, cdr)  # the capture owed, durable with the CDR
    return cdr


async def _stored_or_new_cdr(db: AsyncSession, session: ChargingSession) -> tuple[Cdr, bool]:
    """The CDR stored for `session` (True), else the one to add (False)."""
    assert session.id is not None
    assert session.ended_at is not None
    token_uid = canonical_uid(session.id_token) if session.id_token else None
    params = {"session_id": session.id, "tariff_id": session.tariff_id, "token_uid": token_uid}
    found = (await (await db.connection()).execute(_CONTEXT, params)).first()
    evse_uid, location_id, zone, cdr_id, token_driver_id, *tariff_values = (
        found if found is not None else (None,) * (5 + len(_TARIFF_COLUMNS))
    )
    if cdr_id is not None:
        stored = await db.get(Cdr, cdr_id)
        assert stored is not None
        return stored, True
    tariff_row = _tariff_row(tariff_values)
    if session.currency is None:  # no tariff attached yet (a session started another way)
        await attach_tariff(db, session)
        tariff_row = await db.get(TariffRow, session.tariff_id) if session.tariff_id else None
    ended_at = max(session.ended_at, session.started_at)
    segments = session_segments(session, await energy_samples(db, session.id), until=ended_at)
    cost: SessionCost | None = None
    if tariff_row is not None:
        try:
            cost = _price(tariff_row, segments, zone or "UTC")
        except InvalidInput:
            log.exception("cannot price session %s: its CDR is written at zero cost", session.id)
    if session.driver_id is None:
        session.driver_id = token_driver_id
    currency = cost.currency if cost else (session.currency or DEFAULT_CURRENCY)
    cdr = Cdr(
        session_id=session.id,
        driver_id=session.driver_id,
        location_id=location_id,
        station_id=session.station_id,
        evse_uid=evse_uid if evse_uid is not None else str(session.evse_id),
        id_token=session.id_token,
        started_at=session.started_at,
        ended_at=ended_at,
        energy_wh=session.energy_wh,
        charging_time_s=_seconds(segments, charging=True),
        idle_time_s=_seconds(segments, charging=False),
        currency=currency,
        total_excl_vat_minor=cost.total_excl_vat if cost else 0,
        total_vat_minor=cost.total_vat if cost else 0,
        total_incl_vat_minor=cost.total_incl_vat if cost else 0,
        cost_breakdown=breakdown_json(cost),
        tariff=tariff_snapshot(tariff_row) if tariff_row is not None else None,
        charging_periods=_priced_periods(cost) if cost else _unpriced_periods(segments),
        stop_reason=session.stop_reason,
        receipt_token=secrets.token_urlsafe(24),
    )
    return cdr, False


async def update_session_price(db: AsyncSession, session: ChargingSession) -> None:
    """The pricing hook of the transaction services, called before they commit a change.

    A new session gets its connector's tariff, an active one its cost so far, a completed one
    its CDR (once).
    """
    if session.status == SessionStatus.COMPLETED:
        await write_cdr(db, session)
    else:
        await update_live_cost(db, session)
