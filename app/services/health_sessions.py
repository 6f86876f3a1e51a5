"""Health checks on sessions: no meter values, repeated failed starts, a transaction the charger
never closed, and a meter register running backwards."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import col, func, or_, select

from app.db.engine import SessionFactory
from app.db.models import ChargingSession, Evse, MeterSample, RemoteCommand
from app.domain.alerts import AlertCode, AlertSeverity, AlertSource
from app.domain.enums import EvseStatus, SessionStatus
from app.events import EventBus
from app.services import alerts
from app.services.alerts import Event
from app.services.health import HealthThresholds, Key, sync_condition

REGISTER = "Energy.Active.Import.Register"
FAILED_START_STATUSES = ("REJECTED", "TIMEOUT", "FAILED")


async def check_sessions(
    *, session_factory: SessionFactory, bus: EventBus, now: datetime, thresholds: HealthThresholds
) -> list[Event]:
    """Alerts for silent sessions, unclosed transactions and EVSEs that keep failing to start."""
    silent_before = now - timedelta(seconds=thresholds.meter_silence_s)
    too_old = now - timedelta(seconds=thresholds.max_session_s)
    idle_before = now - timedelta(seconds=thresholds.open_while_available_s)
    failures_since = now - timedelta(seconds=thresholds.failed_start_window_s)
    last_meter = func.coalesce(ChargingSession.last_meter_at, ChargingSession.started_at)
    async with session_factory() as db:
        active = ChargingSession.status == SessionStatus.ACTIVE
        silent = (
            await db.exec(select(ChargingSession).where(active, last_meter < silent_before))
        ).all()
        unclosed = (
            await db.exec(
                select(ChargingSession)
                .join(Evse, col(Evse.id) == col(ChargingSession.evse_id))
                .where(
                    active,
                    or_(
                        col(ChargingSession.started_at) < too_old,
                        (col(Evse.status) == EvseStatus.AVAILABLE)
                        & (col(Evse.status_updated_at) < idle_before)
                        & (col(Evse.status_updated_at) > col(ChargingSession.started_at)),
                    ),
                )
            )
        ).all()
        failures = (
            await db.exec(
                select(
                    RemoteCommand.station_id, RemoteCommand.evse_id, RemoteCommand.created_at
                ).where(
                    RemoteCommand.kind == "START",
                    col(RemoteCommand.status).in_(FAILED_START_STATUSES),
                    col(RemoteCommand.created_at) >= failures_since,
                    col(RemoteCommand.evse_id).is_not(None),
                )
            )
        ).all()
        by_evse: dict[Key, list[datetime]] = defaultdict(list)
        for station_id, evse_id, created_at in failures:
            by_evse[(station_id, evse_id)].append(created_at)
        failing: dict[Key, str] = {}
        for key, times in by_evse.items():
            if len(times) < thresholds.failed_starts:
                continue
            started_since = (
                await db.exec(
                    select(func.count()).where(
                        ChargingSession.evse_id == key[1],
                        col(ChargingSession.started_at) > max(times),
                    )
                )
            ).one()
            if not started_since:  # a session that started after the failures clears it
                failing[key] = f"{len(times)} failed remote starts since {min(times).isoformat()}"
        events = await sync_condition(
            db, code=AlertCode.NO_METER_VALUES, severity=AlertSeverity.MINOR, now=now,
            active={
                (s.station_id, s.evse_id): f"session {s.id} (transaction {s.transaction_id}): "
                f"no meter values since {(s.last_meter_at or s.started_at).isoformat()}"
                for s in silent
            },
        )  # fmt: skip
        events += await sync_condition(
            db, code=AlertCode.TRANSACTION_NOT_CLOSED, severity=AlertSeverity.MINOR, now=now,
            active={
                (s.station_id, s.evse_id): f"transaction {s.transaction_id} open since "
                f"{s.started_at.isoformat()}"
                for s in unclosed
            },
        )  # fmt: skip
        events += await sync_condition(
            db, code=AlertCode.REPEATED_FAILED_STARTS, severity=AlertSeverity.MAJOR, now=now,
            active=failing,
        )  # fmt: skip
        await db.commit()
    await alerts.publish(bus, events)
    return events


@dataclass
class RegisterWatch:
    """Reads new energy-register samples incrementally (by id) and remembers the last value
    per session, so a register that goes down between two readings raises an alert once per
    occurrence. Owned by the health monitor; one per process."""

    last_sample_id: int = 0
    last_wh: dict[int, float] = field(default_factory=dict)

    async def check(
        self, *, session_factory: SessionFactory, bus: EventBus, now: datetime
    ) -> list[Event]:
        async with session_factory() as db:
            rows = (
                await db.exec(
                    select(MeterSample, ChargingSession.evse_id, ChargingSession.transaction_id)
                    .join(ChargingSession, col(ChargingSession.id) == col(MeterSample.session_id))
                    .where(
                        col(MeterSample.id) > self.last_sample_id,
                        MeterSample.measurand == REGISTER,
                        ChargingSession.status == SessionStatus.ACTIVE,
                    )
                    .order_by(col(MeterSample.id))  # insertion order: per session, reading order
                    .limit(10_000)
                )
            ).all()
            events: list[Event] = []
            for sample, evse_id, transaction_id in rows:
                assert sample.id is not None
                assert sample.session_id is not None
                self.last_sample_id = max(self.last_sample_id, sample.id)
                wh = sample.value * (1000.0 if sample.unit.lower() == "kwh" else 1.0)
                previous = self.last_wh.get(sample.session_id)
                self.last_wh[sample.session_id] = wh
                if previous is None or wh >= previous:
                    continue
                raised = await alerts.raise_alert(
                    db, station_id=sample.station_id, evse_id=evse_id,
                    code=AlertCode.METER_REGISTER_BACKWARDS, severity=AlertSeverity.MAJOR,
                    source=AlertSource.MONITOR, at=sample.sampled_at,
                    info=f"transaction {transaction_id}: register {previous:.0f} Wh → {wh:.0f} Wh",
                )  # fmt: skip
                if raised is not None:
                    events.append(raised)
            active_ids = set(
                (
                    await db.exec(
                        select(ChargingSession.id).where(
                            ChargingSession.status == SessionStatus.ACTIVE
                        )
                    )
                ).all()
            )
            await db.commit()
        for session_id in set(self.last_wh) - active_ids:  # finished sessions: forget them
            del self.last_wh[session_id]
        await alerts.publish(bus, events)
        return events
