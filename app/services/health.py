"""Health checks the monitor runs on every tick: silent stations go offline, and derived
conditions (offline too long, flapping, boot loops) open or clear alerts."""

import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlmodel import col, func, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.engine import SessionFactory
from app.db.models import Alert, ChargingStation, StationBoot, StationConnectivityInterval
from app.domain.alerts import AlertCode, AlertSeverity, AlertSource
from app.events import EventBus, topics
from app.services import alerts, health_history
from app.services.alerts import Event

log = logging.getLogger(__name__)

Key = tuple[str, int | None]
"""(station id, EVSE id or None) a derived condition is about."""

T = TypeVar("T")

WriteTurn = Callable[[], AbstractAsyncContextManager[None]]
"""Taken around each write transaction; the OCPP group commit's `write_turn` on SQLite, so
the monitor's writes and the OCPP batches queue in-process instead of on the database lock."""

WRITE_BATCH = 20
"""Stations or alerts per write transaction. Each check reads first, outside any write
transaction, then writes this many at a time: on SQLite a pass holds the one write lock for
one batch at a time (raising 20 alerts: ~40 ms on the shared test machine; refreshing them:
under 5 ms) instead of for all its alerts (1,000 offline stations: 1.3-3.4 s)."""


def no_turn() -> AbstractAsyncContextManager[None]:
    return contextlib.nullcontext()


@dataclass(frozen=True, slots=True)
class HealthThresholds:
    """When a condition becomes an alert. Times in seconds."""

    heartbeat_interval_s: float
    offline_alert_after_s: float = 300.0
    flapping_window_s: float = 600.0
    flapping_connects: int = 5
    boot_loop_window_s: float = 600.0
    boot_loop_boots: int = 3
    meter_silence_s: float = 900.0
    failed_start_window_s: float = 3600.0
    failed_starts: int = 3
    max_session_s: float = 86_400.0
    open_while_available_s: float = 600.0

    @property
    def silence_s(self) -> float:
        """A station that sent no message for two heartbeat intervals is offline."""
        return 2 * self.heartbeat_interval_s


async def write_in_batches(
    items: Sequence[T],
    write: Callable[[AsyncSession, Sequence[T]], Awaitable[list[Event]]],
    *,
    session_factory: SessionFactory,
    publish: Callable[[list[Event]], Awaitable[None]],
    write_turn: WriteTurn = no_turn,
) -> list[Event]:
    """`write` WRITE_BATCH items at a time, each batch one short transaction whose events are
    published once it commits. `write` must re-check its condition in the database (the items
    were read before, outside the transaction) so that a batch is idempotent: when a batch
    fails, the batches before it stay committed, whole, and the next pass does the rest."""
    events: list[Event] = []
    for start in range(0, len(items), WRITE_BATCH):
        async with write_turn(), session_factory() as db:
            written = await write(db, items[start : start + WRITE_BATCH])
            await db.commit()
        await publish(written)
        events += written
    return events


async def sync_condition(
    *,
    session_factory: SessionFactory,
    bus: EventBus,
    code: str,
    severity: AlertSeverity,
    active: Mapping[Key, str],
    now: datetime,
    write_turn: WriteTurn = no_turn,
) -> list[Event]:
    """Make the live MONITOR alerts of `code` match `active` (key → info): raise the new ones,
    resolve those whose condition cleared, and refresh `last_seen_at` (and info) of the rest.

    Reads the live alerts first, then writes in batches by station id (the order the OCPP
    writers lock station rows in on PostgreSQL). Raising is idempotent (one live alert per
    condition, found by its open key), so a batch that failed is simply done again next pass."""
    async with session_factory() as db:
        rows = (
            await db.exec(
                select(Alert.id, Alert.station_id, Alert.evse_id, Alert.info).where(
                    Alert.code == code,
                    Alert.source == AlertSource.MONITOR,
                    col(Alert.open_key).is_not(None),
                )
            )
        ).all()
    live: dict[Key, tuple[int, str | None]] = {
        (station_id, evse_id): (alert_id, info)
        for alert_id, station_id, evse_id, info in rows
        if alert_id is not None
    }
    keys = sorted(live.keys() | active.keys(), key=lambda k: (k[0], k[1] or 0))

    async def write(db: AsyncSession, batch: Sequence[Key]) -> list[Event]:
        events: list[Event] = []
        unchanged: list[int] = []
        for station_id, evse_id in batch:
            info = active.get((station_id, evse_id))
            seen = live.get((station_id, evse_id))
            if info is None:
                events += await alerts.clear_alerts(
                    db, station_id=station_id, evse_id=evse_id, source=AlertSource.MONITOR,
                    codes=[code], at=now,
                )  # fmt: skip
            elif seen is not None and seen[1] == info[:500]:
                unchanged.append(seen[0])
            else:  # new, or its info changed: raise_alert opens it or updates the live one
                raised = await alerts.raise_alert(
                    db, station_id=station_id, evse_id=evse_id, code=code, severity=severity,
                    source=AlertSource.MONITOR, at=now, info=info, occurrence=False,
                )  # fmt: skip
                if raised is not None:
                    events.append(raised)
        if unchanged:  # still true: one statement for the batch instead of a read and a write each
            await db.exec(
                sa.update(Alert)
                .where(
                    col(Alert.id).in_(unchanged),
                    col(Alert.open_key).is_not(None),
                    col(Alert.last_seen_at) < now,
                )
                .values(last_seen_at=now)
                .execution_options(synchronize_session=False)
            )
        return events

    return await write_in_batches(
        keys, write, session_factory=session_factory, write_turn=write_turn,
        publish=lambda events: alerts.publish(bus, events),
    )  # fmt: skip


def _status_publisher(bus: EventBus) -> Callable[[list[Event]], Awaitable[None]]:
    async def publish(events: list[Event]) -> None:
        for event in events:
            await bus.publish(topics.station_status(event["station_id"]), event)

    return publish


async def _stations_where(session_factory: SessionFactory, where: list[Any]) -> list[str]:
    """Ids of the stations matching `where`, read outside any write transaction."""
    async with session_factory() as db:
        query = select(ChargingStation.id).where(*where).order_by(col(ChargingStation.id))
        return list((await db.exec(query)).all())


async def _set_online(
    db: AsyncSession, batch: Sequence[str], where: list[Any], *, online: bool
) -> list[tuple[str, datetime | None]]:
    """Set `online` on the stations of `batch` that still match `where`: the UPDATE checks it
    again, so a station that changed since the read is left alone. Returns (id, the station's
    last message time) of those it changed, by id."""
    changed = await db.exec(
        sa.update(ChargingStation)
        .where(col(ChargingStation.id).in_(batch), *where)
        .values(online=online)
        .returning(col(ChargingStation.id), col(ChargingStation.last_message_at))
        .execution_options(synchronize_session=False)
    )
    return sorted((station_id, heard_at) for station_id, heard_at in changed.all())


async def mark_silent_stations_offline(
    *,
    session_factory: SessionFactory,
    bus: EventBus,
    now: datetime,
    thresholds: HealthThresholds,
    write_turn: WriteTurn = no_turn,
) -> list[str]:
    """Stations marked online that sent nothing (no heartbeat, boot or any other message) and
    did not connect within two heartbeat intervals are offline, even if their socket looks
    open. A 2.0.1 station busy with status and meter values may skip heartbeats: any message
    counts. Each station's flag and its connectivity interval change in one transaction; the
    flag is set by a conditional UPDATE, so a station that spoke since the read stays online.
    Returns their ids."""
    cutoff = now - timedelta(seconds=thresholds.silence_s)
    heard = (
        ChargingStation.last_heartbeat_at,
        ChargingStation.last_message_at,
        ChargingStation.connected_at,
    )
    silent: list[Any] = [
        col(ChargingStation.online).is_(True),
        *[or_(col(at).is_(None), col(at) < cutoff) for at in heard],
    ]
    candidates = await _stations_where(session_factory, silent)

    async def write(db: AsyncSession, batch: Sequence[str]) -> list[Event]:
        events: list[Event] = []
        for station_id, _ in await _set_online(db, batch, silent, online=False):
            await health_history.track_connectivity(
                db, station_id=station_id, online=False, reason="HEARTBEAT_TIMEOUT", at=now
            )
            log.warning(
                "station %s silent for %.0f s: marked offline", station_id, thresholds.silence_s
            )
            events.append(
                {"type": "StationOffline", "station_id": station_id,
                 "reason": "HEARTBEAT_TIMEOUT", "at": now.isoformat()}
            )  # fmt: skip
        return events

    events = await write_in_batches(
        candidates, write, session_factory=session_factory, write_turn=write_turn,
        publish=_status_publisher(bus),
    )  # fmt: skip
    return [event["station_id"] for event in events]


async def mark_talking_stations_online(
    *,
    session_factory: SessionFactory,
    bus: EventBus,
    now: datetime,
    write_turn: WriteTurn = no_turn,
) -> list[str]:
    """Stations this monitor found silent that have sent a message since (any frame, which
    the message log keeps as `last_message_at`) are online again from that message: a 2.0.1
    station may come back with a status or meter values rather than a heartbeat. A station
    that disconnected since is not (its open interval says DISCONNECTED); the UPDATE checks
    that again, so a disconnect between the read and the write wins. Returns their ids."""
    interval = StationConnectivityInterval
    timed_out = (
        sa.exists()
        .where(
            col(interval.station_id) == col(ChargingStation.id),
            col(interval.ended_at).is_(None),
            col(interval.reason) == "HEARTBEAT_TIMEOUT",
            col(ChargingStation.last_message_at) > col(interval.started_at),
        )
        .correlate(ChargingStation)
    )
    back: list[Any] = [col(ChargingStation.online).is_(False), timed_out]
    candidates = await _stations_where(session_factory, back)

    async def write(db: AsyncSession, batch: Sequence[str]) -> list[Event]:
        events: list[Event] = []
        for station_id, heard_at in await _set_online(db, batch, back, online=True):
            at = heard_at or now
            await health_history.track_connectivity(
                db, station_id=station_id, online=True, reason="MESSAGE", at=at
            )
            log.info("station %s spoke again at %s: online", station_id, at.isoformat())
            events.append(
                {"type": "StationOnline", "station_id": station_id, "reason": "MESSAGE",
                 "at": at.isoformat()}
            )  # fmt: skip
        return events

    events = await write_in_batches(
        candidates, write, session_factory=session_factory, write_turn=write_turn,
        publish=_status_publisher(bus),
    )  # fmt: skip
    return [event["station_id"] for event in events]


async def check_connectivity(
    *,
    session_factory: SessionFactory,
    bus: EventBus,
    now: datetime,
    thresholds: HealthThresholds,
    write_turn: WriteTurn = no_turn,
) -> list[Event]:
    """Alerts for stations offline too long, flapping connections and boot loops."""
    offline_since = now - timedelta(seconds=thresholds.offline_alert_after_s)
    flapping_since = now - timedelta(seconds=thresholds.flapping_window_s)
    boots_since = now - timedelta(seconds=thresholds.boot_loop_window_s)
    interval = StationConnectivityInterval
    async with session_factory() as db:
        offline = (
            await db.exec(
                select(interval.station_id, interval.started_at).where(
                    col(interval.ended_at).is_(None),
                    col(interval.online).is_(False),
                    col(interval.started_at) <= offline_since,
                )
            )
        ).all()
        connects = (
            await db.exec(
                select(interval.station_id, func.count())
                .where(col(interval.online).is_(True), col(interval.started_at) >= flapping_since)
                .group_by(col(interval.station_id))
            )
        ).all()
        boots = (
            await db.exec(
                select(StationBoot.station_id, func.count())
                .where(col(StationBoot.booted_at) >= boots_since)
                .group_by(col(StationBoot.station_id))
            )
        ).all()
    conditions: list[tuple[str, AlertSeverity, dict[Key, str]]] = [
        (AlertCode.STATION_OFFLINE, AlertSeverity.CRITICAL,
         {(sid, None): f"offline since {since.isoformat()}" for sid, since in offline}),
        (AlertCode.CONNECTION_FLAPPING, AlertSeverity.WARNING,
         {(sid, None): f"{n} connections in {thresholds.flapping_window_s:.0f} s"
          for sid, n in connects if n >= thresholds.flapping_connects}),
        (AlertCode.BOOT_LOOP, AlertSeverity.MAJOR,
         {(sid, None): f"{n} boots in {thresholds.boot_loop_window_s:.0f} s"
          for sid, n in boots if n >= thresholds.boot_loop_boots}),
    ]  # fmt: skip
    events: list[Event] = []
    for code, severity, active in conditions:
        events += await sync_condition(
            session_factory=session_factory, bus=bus, code=code, severity=severity,
            active=active, now=now, write_turn=write_turn,
        )  # fmt: skip
    return events
