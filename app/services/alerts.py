"""Alerts: raise (deduplicated), auto-resolve, list, acknowledge and resolve; published on the bus.

Every query takes an `OperatorScope`: `NETWORK` sees everything (the temporary operator key);
an operator id restricts to stations at that operator's locations (issue 7 fills it from the
caller's account).
"""

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.engine import SessionFactory
from app.db.models import Alert, ChargingStation, Location
from app.domain.alerts import AlertSeverity, AlertSource, AlertState
from app.domain.errors import Conflict, NotFound
from app.events import EventBus

ALERTS_TOPIC = "alerts"
"""Every alert raised, acknowledged or resolved in the network."""

Event = dict[str, Any]


@dataclass(frozen=True, slots=True)
class OperatorScope:
    """Whose alerts and stations a caller may see: None = the whole network."""

    operator_id: int | None = None


NETWORK = OperatorScope()


@dataclass(frozen=True, slots=True)
class AlertFilter:
    states: tuple[AlertState, ...] = ()
    severities: tuple[AlertSeverity, ...] = ()
    station_ids: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AlertPage:
    alerts: list[Alert]
    has_next_page: bool


def _open_key(station_id: str, evse_id: int | None, code: str) -> str:
    return f"{station_id}|{evse_id or ''}|{code}"[:200]


def alert_event(kind: str, alert: Alert) -> Event:
    return {
        "type": kind,
        "alert_id": alert.id,
        "station_id": alert.station_id,
        "evse_id": alert.evse_id,
        "code": alert.code,
        "severity": alert.severity.value,
        "state": alert.state.value,
    }


def scoped(statement: Any, scope: OperatorScope, station_column: Any) -> Any:
    """Restrict a select to the stations of `scope`'s operator."""
    if scope.operator_id is None:
        return statement
    stations = (
        select(ChargingStation.id)
        .join(Location, col(Location.id) == col(ChargingStation.location_id))
        .where(Location.operator_id == scope.operator_id)
    )
    return statement.where(station_column.in_(stations))


async def raise_alert(
    db: AsyncSession,
    *,
    station_id: str,
    evse_id: int | None,
    code: str,
    severity: AlertSeverity,
    source: AlertSource,
    at: datetime,
    vendor_error_code: str | None = None,
    info: str | None = None,
    occurrence: bool = True,
) -> Event | None:
    """Open an alert, or count one more occurrence of the live one (inside the caller's unit of
    work). Returns the `AlertRaised` event to publish after commit, None for a repeat.

    `occurrence=False`: a condition that is merely still true (a monitor tick) refreshes
    `last_seen_at` without counting.
    """
    key = _open_key(station_id, evse_id, code)
    alert = (await db.exec(select(Alert).where(Alert.open_key == key))).first()
    if alert is not None:
        alert.count += 1 if occurrence else 0
        alert.last_seen_at = max(alert.last_seen_at, at)
        alert.info = info[:500] if info else alert.info
        return None
    alert = Alert(
        station_id=station_id,
        evse_id=evse_id,
        code=code[:100],
        severity=severity,
        source=source,
        open_key=key,
        vendor_error_code=vendor_error_code[:100] if vendor_error_code else None,
        info=info[:500] if info else None,
        first_seen_at=at,
        last_seen_at=at,
    )
    db.add(alert)
    await db.flush()
    return alert_event("AlertRaised", alert)


async def clear_alerts(
    db: AsyncSession,
    *,
    station_id: str,
    evse_id: int | None,
    source: AlertSource,
    at: datetime,
    codes: Collection[str] | None = None,
    except_codes: Collection[str] = (),
) -> list[Event]:
    """Resolve the live alerts of a condition that cleared (automatic: `resolved_by` None)."""
    statement = select(Alert).where(
        Alert.station_id == station_id,
        Alert.source == source,
        col(Alert.open_key).is_not(None),
    )
    if evse_id is not None:
        statement = statement.where(Alert.evse_id == evse_id)
    if codes is not None:
        statement = statement.where(col(Alert.code).in_(list(codes)))
    if except_codes:
        statement = statement.where(col(Alert.code).not_in(list(except_codes)))
    events = []
    for alert in (await db.exec(statement)).all():
        _resolve(alert, at=at, by=None)
        events.append(alert_event("AlertResolved", alert))
    return events


def _resolve(alert: Alert, *, at: datetime, by: str | None) -> None:
    alert.state = AlertState.RESOLVED
    alert.resolved_at = at
    alert.resolved_by = by
    alert.open_key = None


async def publish(bus: EventBus, events: Sequence[Event]) -> None:
    for event in events:
        await bus.publish(ALERTS_TOPIC, event)


async def list_alerts(
    *,
    session_factory: SessionFactory,
    scope: OperatorScope,
    filter: AlertFilter,
    first: int,
    after: int | None = None,
) -> AlertPage:
    """Alerts newest first (by id); `after` is the id of the last alert of the previous page."""
    statement = scoped(select(Alert), scope, Alert.station_id)
    if filter.states:
        statement = statement.where(col(Alert.state).in_(filter.states))
    if filter.severities:
        statement = statement.where(col(Alert.severity).in_(filter.severities))
    if filter.station_ids:
        statement = statement.where(col(Alert.station_id).in_(filter.station_ids))
    if filter.codes:
        statement = statement.where(col(Alert.code).in_(filter.codes))
    if after is not None:
        statement = statement.where(col(Alert.id) < after)
    statement = statement.order_by(col(Alert.id).desc()).limit(first + 1)
    async with session_factory() as db:
        rows = list((await db.exec(statement)).all())
    return AlertPage(rows[:first], len(rows) > first)


async def get_alert(
    *, session_factory: SessionFactory, scope: OperatorScope, alert_id: int
) -> Alert:
    async with session_factory() as db:
        return await _get(db, scope, alert_id)


async def _get(db: AsyncSession, scope: OperatorScope, alert_id: int) -> Alert:
    statement = scoped(select(Alert).where(Alert.id == alert_id), scope, Alert.station_id)
    alert: Alert | None = (await db.exec(statement)).first()
    if alert is None:
        raise NotFound("Alert", str(alert_id))
    return alert


async def acknowledge_alert(
    *,
    session_factory: SessionFactory,
    bus: EventBus,
    scope: OperatorScope,
    alert_id: int,
    by: str,
    at: datetime,
) -> Alert:
    """OPEN → ACKNOWLEDGED (idempotent); a resolved alert is a Conflict."""
    async with session_factory() as db:
        alert = await _get(db, scope, alert_id)
        if alert.state == AlertState.RESOLVED:
            raise Conflict(f"alert {alert_id} is already RESOLVED: nothing to acknowledge")
        changed = alert.state == AlertState.OPEN
        if changed:
            alert.state = AlertState.ACKNOWLEDGED
            alert.acknowledged_at = at
            alert.acknowledged_by = by[:100]
        await db.commit()
        await db.refresh(alert)
    if changed:
        await publish(bus, [alert_event("AlertAcknowledged", alert)])
    return alert


async def resolve_alert(
    *,
    session_factory: SessionFactory,
    bus: EventBus,
    scope: OperatorScope,
    alert_id: int,
    by: str,
    at: datetime,
) -> Alert:
    """Resolve by hand (idempotent: a resolved alert stays as it was resolved)."""
    async with session_factory() as db:
        alert = await _get(db, scope, alert_id)
        changed = alert.state != AlertState.RESOLVED
        if changed:
            _resolve(alert, at=at, by=by[:100])
        await db.commit()
        await db.refresh(alert)
    if changed:
        await publish(bus, [alert_event("AlertResolved", alert)])
    return alert


async def count_open(
    *, session_factory: SessionFactory, scope: OperatorScope
) -> dict[AlertSeverity, int]:
    """Live (open or acknowledged) alerts per severity."""
    statement = scoped(
        select(Alert.severity, func.count())
        .where(col(Alert.open_key).is_not(None))
        .group_by(col(Alert.severity)),
        scope,
        Alert.station_id,
    )
    counts = dict.fromkeys(AlertSeverity, 0)
    async with session_factory() as db:
        for severity, count in (await db.exec(statement)).all():
            counts[AlertSeverity(severity)] = int(count)
    return counts
