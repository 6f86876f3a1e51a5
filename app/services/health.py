"""Health checks the monitor runs on every tick, each one unit of work: silent stations go
offline, and derived conditions (offline too long, flapping, boot loops) open or clear alerts."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

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


async def sync_condition(
    db: AsyncSession,
    *,
    code: str,
    severity: AlertSeverity,
    active: Mapping[Key, str],
    now: datetime,
) -> list[Event]:
    """Make the live MONITOR alerts of `code` match `active` (key → info): raise the new ones,
    resolve those whose condition cleared."""
    events: list[Event] = []
    live = (
        await db.exec(
            select(Alert).where(
                Alert.code == code,
                Alert.source == AlertSource.MONITOR,
                col(Alert.open_key).is_not(None),
            )
        )
    ).all()
    for alert in live:
        if (alert.station_id, alert.evse_id) not in active:
            events += await alerts.clear_alerts(
                db, station_id=alert.station_id, evse_id=alert.evse_id,
                source=AlertSource.MONITOR, codes=[code], at=now,
            )  # fmt: skip
    for (station_id, evse_id), info in active.items():
        raised = await alerts.raise_alert(
            db, station_id=station_id, evse_id=evse_id, code=code, severity=severity,
            source=AlertSource.MONITOR, at=now, info=info, occurrence=False,
        )  # fmt: skip
        if raised is not None:
            events.append(raised)
    return events


async def mark_silent_stations_offline(
    *, session_factory: SessionFactory, bus: EventBus, now: datetime, thresholds: HealthThresholds
) -> list[str]:
    """Stations marked online that sent nothing (no heartbeat, boot or any other message) and
    did not connect within two heartbeat intervals are offline, even if their socket looks
    open. A 2.0.1 station busy with status and meter values may skip heartbeats: any message
    counts. Returns their ids."""
    cutoff = now - timedelta(seconds=thresholds.silence_s)
    heard = (
        ChargingStation.last_heartbeat_at,
        ChargingStation.last_message_at,
        ChargingStation.connected_at,
    )
    async with session_factory() as db:
        silent = (
            await db.exec(
                select(ChargingStation).where(
                    col(ChargingStation.online).is_(True),
                    *[or_(col(at).is_(None), col(at) < cutoff) for at in heard],
                )
            )
        ).all()
        ids = []
        for station in silent:
            station.online = False
            await health_history.track_connectivity(
                db, station_id=station.id, online=False, reason="HEARTBEAT_TIMEOUT", at=now
            )
            ids.append(station.id)
        await db.commit()
    for station_id in ids:
        log.warning(
            "station %s silent for %.0f s: marked offline", station_id, thresholds.silence_s
        )
        await bus.publish(
            topics.station_status(station_id),
            {"type": "StationOffline", "station_id": station_id, "reason": "HEARTBEAT_TIMEOUT",
             "at": now.isoformat()},
        )  # fmt: skip
    return ids


async def mark_talking_stations_online(
    *, session_factory: SessionFactory, bus: EventBus, now: datetime
) -> list[str]:
    """Stations this monitor found silent that have sent a message since (any frame, which
    the message log keeps as `last_message_at`) are online again from that message: a 2.0.1
    station may come back with a status or meter values rather than a heartbeat. A station
    that disconnected since is not (its open interval says DISCONNECTED). Returns their ids."""
    interval = StationConnectivityInterval
    async with session_factory() as db:
        back = (
            await db.exec(
                select(ChargingStation)
                .join(interval, col(interval.station_id) == col(ChargingStation.id))
                .where(
                    col(ChargingStation.online).is_(False),
                    col(interval.ended_at).is_(None),
                    interval.reason == "HEARTBEAT_TIMEOUT",
                    col(ChargingStation.last_message_at) > col(interval.started_at),
                )
            )
        ).all()
        heard = {station.id: station.last_message_at or now for station in back}
        for station in back:
            station.online = True
            await health_history.track_connectivity(
                db, station_id=station.id, online=True, reason="MESSAGE", at=heard[station.id]
            )
        await db.commit()
    for station_id, at in heard.items():
        log.info("station %s spoke again at %s: online", station_id, at.isoformat())
        await bus.publish(
            topics.station_status(station_id),
            {"type": "StationOnline", "station_id": station_id, "reason": "MESSAGE",
             "at": at.isoformat()},
        )  # fmt: skip
    return list(heard)


async def check_connectivity(
    *, session_factory: SessionFactory, bus: EventBus, now: datetime, thresholds: HealthThresholds
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
        events = await sync_condition(
            db, code=AlertCode.STATION_OFFLINE, severity=AlertSeverity.CRITICAL, now=now,
            active={(sid, None): f"offline since {since.isoformat()}" for sid, since in offline},
        )  # fmt: skip
        events += await sync_condition(
            db, code=AlertCode.CONNECTION_FLAPPING, severity=AlertSeverity.WARNING, now=now,
            active={
                (sid, None): f"{n} connections in {thresholds.flapping_window_s:.0f} s"
                for sid, n in connects if n >= thresholds.flapping_connects
            },
        )  # fmt: skip
        events += await sync_condition(
            db, code=AlertCode.BOOT_LOOP, severity=AlertSeverity.MAJOR, now=now,
            active={
                (sid, None): f"{n} boots in {thresholds.boot_loop_window_s:.0f} s"
                for sid, n in boots if n >= thresholds.boot_loop_boots
            },
        )  # fmt: skip
        await db.commit()
    await alerts.publish(bus, events)
    return events
