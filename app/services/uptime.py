"""Uptime reports per EVSE, station or location from the status and connectivity history,
with maintenance windows and excluded outages; the network's worst EVSEs; maintenance windows."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import col, or_, select

from app.db.engine import SessionFactory
from app.db.models import (
    ChargingStation,
    Evse,
    EvseStatusInterval,
    MaintenanceWindow,
    StationConnectivityInterval,
)
from app.domain.errors import InvalidInput, NotFound
from app.domain.uptime import (
    ExclusionKind,
    OutageCause,
    Span,
    StatusSpan,
    UptimeBreakdown,
    port_uptime,
    worst,
)
from app.services.alerts import OperatorScope, scoped

MAX_WINDOW = timedelta(days=400)  # NEVI reports over the previous 12 months


@dataclass(frozen=True, slots=True)
class EvseUptime:
    evse_id: int
    evse_uid: str
    station_id: str
    breakdown: UptimeBreakdown


@dataclass(frozen=True, slots=True)
class UptimeReport:
    start: datetime
    end: datetime
    total: UptimeBreakdown
    evses: list[EvseUptime]


def _total(breakdowns: list[UptimeBreakdown]) -> UptimeBreakdown:
    """Port-time summed over EVSEs: the station/location µ weighs every port equally."""
    return UptimeBreakdown(
        *(sum(getattr(b, name) for b in breakdowns) for name in UptimeBreakdown.__slots__)
    )


def _check_window(start: datetime, end: datetime) -> None:
    if end <= start:
        raise InvalidInput(
            f"window {start.isoformat()}..{end.isoformat()}: `to` must be after `from`"
        )
    if end - start > MAX_WINDOW:
        raise InvalidInput(f"window of {(end - start).days} days: expected at most 400")


async def _compute(
    session_factory: SessionFactory, evses: list[Evse], start: datetime, end: datetime
) -> list[EvseUptime]:
    if not evses:
        return []
    evse_ids = [e.id for e in evses]
    station_ids = sorted({e.station_id for e in evses})

    def overlapping(started: Any, ended: Any) -> Any:
        return (col(started) < end) & or_(col(ended).is_(None), col(ended) > start)

    async with session_factory() as db:
        statuses = (
            await db.exec(
                select(EvseStatusInterval).where(
                    col(EvseStatusInterval.evse_id).in_(evse_ids),
                    overlapping(EvseStatusInterval.started_at, EvseStatusInterval.ended_at),
                )
            )
        ).all()
        offline = (
            await db.exec(
                select(StationConnectivityInterval).where(
                    col(StationConnectivityInterval.station_id).in_(station_ids),
                    col(StationConnectivityInterval.online).is_(False),
                    overlapping(
                        StationConnectivityInterval.started_at, StationConnectivityInterval.ended_at
                    ),
                )
            )
        ).all()
        windows = (
            await db.exec(
                select(MaintenanceWindow).where(
                    col(MaintenanceWindow.station_id).in_(station_ids),
                    col(MaintenanceWindow.starts_at) < end,
                    col(MaintenanceWindow.ends_at) > start,
                )
            )
        ).all()
    by_evse: dict[int, list[StatusSpan]] = defaultdict(list)
    for row in statuses:
        by_evse[row.evse_id].append(StatusSpan(row.status, row.started_at, row.ended_at))
    by_station: dict[str, list[Span]] = defaultdict(list)
    for gap in offline:
        by_station[gap.station_id].append(Span(gap.started_at, gap.ended_at))
    window = Span(start, end)
    result = []
    for evse in evses:
        assert evse.id is not None
        excluded = [
            Span(w.starts_at, w.ends_at)
            for w in windows
            if w.station_id == evse.station_id and w.evse_id in (None, evse.id)
        ]
        breakdown = port_uptime(
            window=window,
            statuses=by_evse[evse.id],
            offline=by_station[evse.station_id],
            excluded=excluded,
        )
        result.append(EvseUptime(evse.id, evse.uid, evse.station_id, breakdown))
    return result


async def uptime_report(
    *,
    session_factory: SessionFactory,
    scope: OperatorScope,
    start: datetime,
    end: datetime,
    evse_id: int | None = None,
    station_id: str | None = None,
    location_id: int | None = None,
) -> UptimeReport:
    """Uptime of one EVSE, every EVSE of a station, or of a location (exactly one target)."""
    _check_window(start, end)
    if sum(target is not None for target in (evse_id, station_id, location_id)) != 1:
        raise InvalidInput("give exactly one of evseId, stationId, locationId")
    statement = scoped(
        select(Evse).join(ChargingStation, col(ChargingStation.id) == col(Evse.station_id)),
        scope,
        Evse.station_id,
    )
    if evse_id is not None:
        statement = statement.where(Evse.id == evse_id)
    elif station_id is not None:
        statement = statement.where(Evse.station_id == station_id)
    else:
        statement = statement.where(ChargingStation.location_id == location_id)
    async with session_factory() as db:
        evses = list((await db.exec(statement.order_by(col(Evse.uid)))).all())
    if not evses:
        target = evse_id if evse_id is not None else station_id or location_id
        raise NotFound("EVSEs of", target)
    rows = await _compute(session_factory, evses, start, end)
    return UptimeReport(start, end, _total([r.breakdown for r in rows]), rows)


async def worst_evses(
    *,
    session_factory: SessionFactory,
    scope: OperatorScope,
    start: datetime,
    end: datetime,
    limit: int,
) -> list[EvseUptime]:
    """The network's `limit` EVSEs with the lowest uptime over the window."""
    _check_window(start, end)
    async with session_factory() as db:
        evses = list((await db.exec(scoped(select(Evse), scope, Evse.station_id))).all())
    rows = await _compute(session_factory, evses, start, end)
    by_uid = {r.evse_uid: r for r in rows}
    return [by_uid[uid] for uid, _ in worst(((r.evse_uid, r.breakdown) for r in rows), limit=limit)]


async def add_maintenance_window(
    *,
    session_factory: SessionFactory,
    scope: OperatorScope,
    station_id: str,
    evse_id: int | None,
    kind: ExclusionKind,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    by: str | None,
    cause: OutageCause | None = None,
) -> MaintenanceWindow:
    """Exclude a time span of a station (or one of its EVSEs) from uptime.

    `cause` says why an EXCLUDED_OUTAGE was outside the operator's control (OTHER when not
    given); scheduled maintenance has none.
    """
    _check_window(starts_at, ends_at)
    if kind is ExclusionKind.SCHEDULED_MAINTENANCE and cause is not None:
        raise InvalidInput(f"cause {cause.value}: scheduled maintenance has no outage cause")
    if kind is ExclusionKind.EXCLUDED_OUTAGE and cause is None:
        cause = OutageCause.OTHER
    async with session_factory() as db:
        station = (
            await db.exec(
                scoped(
                    select(ChargingStation).where(ChargingStation.id == station_id),
                    scope,
                    ChargingStation.id,
                )
            )
        ).first()
        if station is None:
            raise NotFound("ChargingStation", station_id)
        if evse_id is not None:
            evse = await db.get(Evse, evse_id)
            if evse is None or evse.station_id != station_id:
                raise NotFound("Evse", evse_id)
        row = MaintenanceWindow(
            station_id=station_id, evse_id=evse_id, kind=kind, reason=reason[:255],
            cause=cause.value if cause is not None else None,
            starts_at=starts_at, ends_at=ends_at, created_by=by[:100] if by else None,
        )  # fmt: skip
        db.add(row)
        await db.commit()
        await db.refresh(row)
    return row


def _scoped_windows(scope: OperatorScope) -> Any:
    return scoped(select(MaintenanceWindow), scope, MaintenanceWindow.station_id)


async def remove_maintenance_window(
    *, session_factory: SessionFactory, scope: OperatorScope, window_id: int, kind: ExclusionKind
) -> MaintenanceWindow:
    """Delete a maintenance window or excluded outage of `kind`; another organisation's, or one
    of the other kind, is NotFound. Returns the row as it was."""
    async with session_factory() as db:
        row: MaintenanceWindow | None = (
            await db.exec(
                _scoped_windows(scope).where(
                    MaintenanceWindow.id == window_id, MaintenanceWindow.kind == kind
                )
            )
        ).first()
        if row is None:
            raise NotFound(kind.value, window_id)
        await db.delete(row)
        await db.commit()
    return row


async def list_maintenance_windows(
    *,
    session_factory: SessionFactory,
    scope: OperatorScope,
    start: datetime,
    end: datetime,
    station_id: str | None = None,
    kind: ExclusionKind | None = None,
) -> list[MaintenanceWindow]:
    """Windows and exclusions overlapping [start, end), oldest first."""
    _check_window(start, end)
    statement = _scoped_windows(scope).where(
        col(MaintenanceWindow.starts_at) < end, col(MaintenanceWindow.ends_at) > start
    )
    if station_id is not None:
        statement = statement.where(MaintenanceWindow.station_id == station_id)
    if kind is not None:
        statement = statement.where(MaintenanceWindow.kind == kind)
    order = (col(MaintenanceWindow.starts_at), col(MaintenanceWindow.id))
    async with session_factory() as db:
        return list((await db.exec(statement.order_by(*order))).all())
