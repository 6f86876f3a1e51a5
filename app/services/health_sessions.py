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
from app.services.health import (
    WRITE_BATCH,
    HealthThresholds,
    Key,
    WriteTurn,
    no_turn,
    sync_condition,
)

REGISTER = "Energy.Active.Import.Register"
FAILED_START_STATUSES = ("REJECTED", "TIMEOUT", "FAILED")


async def check_sessions(
    *,
    session_factory: SessionFactory,
    bus: EventBus,
    now: datetime,
    thresholds: HealthThresholds,
    write_turn: WriteTurn = no_turn,
) -> list[Event]:
    """Alerts for silent sessions, unclosed transactions and EVSEs that keep failing to start."""
    silent_before = now - timedelta(seconds=thresholds.meter_silence_s)
    too_old = now - timedelta(seconds=thresholds.max_session_s)
    idle_before = now - timedelta(seconds=thresholds.open_while_available_s)
    failures_since = now - timedelta(seconds=thresholds.failed_start_window_s)
    last_meter = func.coalesce(ChargingSession.last_meter_at, ChargingSession.started_at)
    async with session_factory() as db:
        is_active = ChargingSession.status == SessionStatus.ACTIVE
        silent = (
            await db.exec(select(ChargingSession).where(is_active, last_meter < silent_before))
        ).all()
        unclosed = (
            await db.exec(
                select(ChargingSession)
                .join(Evse, col(Evse.id) == col(ChargingSession.evse_id))
                .where(
                    is_active,
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
    conditions: list[tuple[str, AlertSeverity, dict[Key, str]]] = [
        (AlertCode.NO_METER_VALUES, AlertSeverity.MINOR, {
            (s.station_id, s.evse_id): f"session {s.id} (transaction {s.transaction_id}): "
            f"no meter values since {(s.last_meter_at or s.started_at).isoformat()}"
            for s in silent
        }),
        (AlertCode.TRANSACTION_NOT_CLOSED, AlertSeverity.MINOR, {
            (s.station_id, s.evse_id): f"transaction {s.transaction_id} open since "
            f"{s.started_at.isoformat()}"
            for s in unclosed
        }),
        (AlertCode.REPEATED_FAILED_STARTS, AlertSeverity.MAJOR, failing),
    ]  # fmt: skip
    events: list[Event] = []
    for code, severity, active in conditions:  # each reads its live alerts, writes in batches
        events += await sync_condition(
            session_factory=session_factory, bus=bus, code=code, severity=severity,
            active=active, now=now, write_turn=write_turn,
        )  # fmt: skip
    return events


@dataclass
class RegisterWatch:
    """Reads new energy-register samples incrementally (by id) and remembers the last value
    per session, so a register that goes down between two readings raises an alert once per
    occurrence. Owned by the health monitor; one per process."""

    last_sample_id: int = 0
    last_wh: dict[int, float] = field(default_factory=dict)

    async def check(
        self,
        *,
        session_factory: SessionFactory,
        bus: EventBus,
        now: datetime,
        write_turn: WriteTurn = no_turn,
    ) -> list[Event]:
        """Read the new samples, then raise an alert per backwards reading, WRITE_BATCH
        alerts per transaction. The watch's position (last sample id and values) moves only
        as far as the committed alerts: a pass that fails part-way reads the rest again next
        time and counts no occurrence twice."""
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
            active_ids = set(
                (
                    await db.exec(
                        select(ChargingSession.id).where(
                            ChargingSession.status == SessionStatus.ACTIVE
                        )
                    )
                ).all()
            )
        last_id, last_wh = self.last_sample_id, dict(self.last_wh)
        batches: list[list[_Backwards]] = [[]]
        checkpoints: list[tuple[int, dict[int, float]]] = []
        for sample, evse_id, transaction_id in rows:
            assert sample.id is not None
            assert sample.session_id is not None
            last_id = max(last_id, sample.id)
            wh = sample.value * (1000.0 if sample.unit.lower() == "kwh" else 1.0)
            previous = last_wh.get(sample.session_id)
            last_wh[sample.session_id] = wh
            if previous is None or wh >= previous:
                continue
            batches[-1].append(
                _Backwards(
                    sample.station_id, evse_id, sample.sampled_at,
                    f"transaction {transaction_id}: register {previous:.0f} Wh → {wh:.0f} Wh",
                )
            )  # fmt: skip
            if len(batches[-1]) == WRITE_BATCH:
                checkpoints.append((last_id, dict(last_wh)))
                batches.append([])
        events: list[Event] = []
        for batch, (checkpoint_id, checkpoint_wh) in zip(batches, checkpoints, strict=False):
            events += await self._raise(batch, session_factory, bus, write_turn)
            self.last_sample_id, self.last_wh = checkpoint_id, checkpoint_wh
        if batches[-1]:  # the last, partial batch (full ones were done above)
            events += await self._raise(batches[-1], session_factory, bus, write_turn)
        self.last_sample_id = last_id
        # Finished sessions: forget them.
        self.last_wh = {sid: wh for sid, wh in last_wh.items() if sid in active_ids}
        return events

    @staticmethod
    async def _raise(
        batch: list["_Backwards"], session_factory: SessionFactory, bus: EventBus,
        write_turn: WriteTurn,
    ) -> list[Event]:  # fmt: skip
        events: list[Event] = []
        async with write_turn(), session_factory() as db:
            for found in batch:
                raised = await alerts.raise_alert(
                    db, station_id=found.station_id, evse_id=found.evse_id,
                    code=AlertCode.METER_REGISTER_BACKWARDS, severity=AlertSeverity.MAJOR,
                    source=AlertSource.MONITOR, at=found.sampled_at, info=found.info,
                )  # fmt: skip
                if raised is not None:
                    events.append(raised)
            await db.commit()
        await alerts.publish(bus, events)
        return events


@dataclass(frozen=True, slots=True)
class _Backwards:
    """A register reading below the session's previous one."""

    station_id: str
    evse_id: int
    sampled_at: datetime
    info: str
