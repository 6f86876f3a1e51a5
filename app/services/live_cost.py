"""The cost so far of active sessions, kept as a running priced state per session.

Re-pricing a session's whole timeline on every meter value costs O(samples) per message (a
4-hour session sampled every 15 s re-reads 1,920 rows). Instead each active session keeps its
timeline folded so far: the joined periods (`session_timeline.Compactor`), its last two points
and the instant still open (more values of the same timestamp may follow). A meter value reads
only the rows added since (by id, from the last one folded, which must still be there),
folds them in and prices a handful of periods.

The result is exactly what `pricing.session_cost` gives: the same per-row rules as
`energy_samples`, the same points as `session_segments`, the same joins as `compact_periods`.
Whenever that cannot be guaranteed (a row older than the open instant, another tariff or
meter start, an unknown session) the state is rebuilt from all rows. A state is kept only
once its transaction commits, so a rolled-back message never leaves its rows in it.
"""

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from itertools import pairwise
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.models import MeterSample as SampleRow
from app.domain.metering import ENERGY_IMPORT_REGISTER, POWER_IMPORT
from app.domain.tariffs import MeterSample, SessionCost, Tariff, price_session
from app.services.session_timeline import IDLE_POWER_W, Compactor, Segment

_PHASES = frozenset(("L1", "L2", "L3", "L1-N", "L2-N", "L3-N"))
Point = tuple[datetime, int, int | None]  # time, register Wh, power W


@dataclass(slots=True)
class _Instant:
    """The readings of one timestamp, folded by `energy_samples`' rules."""

    at: datetime
    energy: float | None = None
    total_power: float | None = None
    phase_power: float | None = None

    def add(self, measurand: str, phase: str | None, value: float) -> None:
        if measurand == ENERGY_IMPORT_REGISTER:
            if phase is None or self.energy is None:
                self.energy = value
        elif phase is None:
            self.total_power = value
        elif phase in _PHASES:
            self.phase_power = (self.phase_power or 0.0) + value

    def sample(self) -> MeterSample | None:
        if self.energy is None:
            return None  # an instant without a register reading is not a point
        power = self.total_power if self.total_power is not None else self.phase_power
        return MeterSample(self.at, round(self.energy), round(power) if power is not None else None)


def _segment(a: Point, b: Point) -> Segment:
    (t0, e0, p0), (t1, e1, p1) = a, b
    trickle = p0 is not None and p1 is not None and p0 < IDLE_POWER_W and p1 < IDLE_POWER_W
    charging = e1 > e0 and not trickle
    return Segment(t0, t1, e1 - e0, charging, p0 if charging else 0)


def _advance(points: list[Point], sample: MeterSample) -> Point | None:
    """`session_segments`' rule for one sample: merge into the last point (same or earlier
    time; returns None) or return the new point."""
    last = points[-1]
    register = max(int(sample.energy_register_wh), last[1])
    power = int(sample.power_w) if sample.power_w is not None else None
    if sample.timestamp <= last[0]:
        points[-1] = (last[0], register, power if power is not None else last[2])
        return None
    return (sample.timestamp, register, power)


@dataclass(slots=True)
class LiveTimeline:
    key: tuple[Any, ...]
    tariff: Tariff
    zone: tzinfo
    zone_name: str
    compactor: Compactor
    points: list[Point]  # the last one or two points; segments before them are in `compactor`
    open: _Instant | None = None
    last_row_id: int = 0
    last_row_at: datetime | None = None  # with the id: proves the rows folded are still there
    cost: SessionCost | None = field(default=None)

    def fold(self, rows: list[tuple[int, datetime, str, str | None, float]]) -> bool:
        """Fold rows newer than `last_row_id`, in (time, id) order. False: a row is older than
        the open instant, so the fold would differ from a full read (rebuild instead)."""
        for row_id, at, measurand, phase, value in rows:
            if self.open is not None and at < self.open.at:
                return False
            if self.open is None or at > self.open.at:
                self._close_open()
                self.open = _Instant(at)
            self.open.add(measurand, phase, value)
            if row_id > self.last_row_id:
                self.last_row_id, self.last_row_at = row_id, at
        return True

    def _close_open(self) -> None:
        sample = self.open.sample() if self.open is not None else None
        if sample is None:
            return
        point = _advance(self.points, sample)
        if point is None:
            return
        if len(self.points) == 2:
            self.compactor.add(_segment(self.points[0], self.points[1]))
            self.points = [self.points[1]]
        self.points.append(point)

    def price(self) -> SessionCost | None:
        points = list(self.points)
        sample = self.open.sample() if self.open is not None else None
        if sample is not None and (point := _advance(points, sample)) is not None:
            points.append(point)
        tail = [_segment(a, b) for a, b in pairwise(points)]
        periods = self.compactor.periods(tail)
        if not periods:
            return None
        return price_session(self.tariff, periods, time_zone=self.zone_name)


class LiveCostCache:
    """Running states of active sessions, least recently priced dropped first."""

    def __init__(self, max_sessions: int = 10_000) -> None:
        self._states: OrderedDict[int, LiveTimeline] = OrderedDict()
        self._max = max_sessions
        self.rebuilds = 0

    def get(self, session_id: int, key: tuple[Any, ...]) -> LiveTimeline | None:
        state = self._states.get(session_id)
        if state is None or state.key != key:
            return None
        self._states.move_to_end(session_id)
        return state

    def keep(self, session_id: int, state: LiveTimeline) -> None:
        self._states[session_id] = state
        self._states.move_to_end(session_id)
        while len(self._states) > self._max:
            self._states.popitem(last=False)

    def forget(self, session_id: int) -> None:
        self._states.pop(session_id, None)


CACHE = LiveCostCache()


class PricedSession(Protocol):
    """What a session is priced from: a `ChargingSession`, or a `live_sessions.LiveSession`."""

    @property
    def id(self) -> int | None: ...
    @property
    def station_id(self) -> str: ...
    @property
    def tariff_id(self) -> int | None: ...
    @property
    def started_at(self) -> datetime: ...
    @property
    def meter_start_wh(self) -> int: ...


_SAMPLES: Any = SampleRow.__table__  # type: ignore[attr-defined]
# Built once (it runs for every meter value): only the parameters change. A Core statement on
# the connection: no ORM compile step, no autoflush (`update_live_cost` flushes sample
# objects itself; the transaction services insert samples with Core).
_ROWS_FROM: Any = (
    sa.select(
        _SAMPLES.c.id, _SAMPLES.c.sampled_at, _SAMPLES.c.measurand, _SAMPLES.c.phase,
        _SAMPLES.c.value,
    )
    .where(
        _SAMPLES.c.session_id == sa.bindparam("session_id"),
        _SAMPLES.c.id >= sa.bindparam("row_id"),
        _SAMPLES.c.measurand.in_((ENERGY_IMPORT_REGISTER, POWER_IMPORT)),
    )
    .order_by(_SAMPLES.c.sampled_at, _SAMPLES.c.id)
)  # fmt: skip


async def _rows_from(db: AsyncSession, session_id: int, row_id: int) -> list[Any]:
    params = {"session_id": session_id, "row_id": row_id}
    return list((await (await db.connection()).execute(_ROWS_FROM, params)).all())


# Loads what a session is priced on (its tariff, its location's zone) when it has no state.
PricingLoader = Callable[[], Awaitable[tuple[Tariff, tzinfo, str] | None]]


async def live_cost(
    db: AsyncSession,
    session: PricedSession,
    *,
    load: PricingLoader,
    cache: LiveCostCache = CACHE,
    no_rows: bool = False,
) -> SessionCost | None:
    """The session's cost over its samples so far (its flushed rows included).

    `no_rows`: the caller knows the session has no samples (inserted in this transaction)."""
    assert session.id is not None
    key = (session.tariff_id, session.started_at, session.meter_start_wh)
    cached = cache.get(session.id, key)
    state = _copy(cached) if cached is not None else None
    if state is not None:
        # From the last row folded on: if it is gone (another database, a rolled-back write
        # whose id was reused), the state describes other rows.
        rows = await _rows_from(db, session.id, state.last_row_id)
        mark = (state.last_row_id, state.last_row_at)
        present = not state.last_row_id or any((row[0], row[1]) == mark for row in rows)
        if not (present and state.fold([row for row in rows if row[0] > state.last_row_id])):
            state = None
    if state is None:
        loaded = await load()
        if loaded is None:
            return None
        tariff, zone, zone_name = loaded
        cache.rebuilds += 1
        state = LiveTimeline(
            key=key,
            tariff=tariff,
            zone=zone,
            zone_name=zone_name,
            compactor=Compactor(tariff, zone, session.started_at),
            points=[(session.started_at, session.meter_start_wh, None)],
        )
        if not no_rows:
            rows = await _rows_from(db, session.id, 0)
            state.fold(rows)  # from empty, in order: never refuses
    state.cost = state.price()
    _keep_on_commit(db.sync_session, cache, session.id, state)
    return state.cost


_PENDING = "live_cost.pending"  # Session.info: the states to keep when the transaction commits


def _keep_on_commit(
    db: Session, cache: LiveCostCache, session_id: int, state: LiveTimeline
) -> None:
    """Keep `state` once the transaction commits; drop it if it rolls back. Two listeners per
    database session, not one per message: a group-commit batch prices many sessions."""
    pending = db.info.get(_PENDING)
    if pending is None:
        pending = db.info[_PENDING] = []
        event.listen(db, "after_commit", _keep_pending)
        event.listen(db, "after_rollback", _drop_pending)
    pending.append((cache, session_id, state))


def _keep_pending(db: Session) -> None:
    for cache, session_id, state in db.info.get(_PENDING, ()):
        cache.keep(session_id, state)
    db.info[_PENDING] = []


def _drop_pending(db: Session) -> None:
    db.info[_PENDING] = []


def _copy(state: LiveTimeline) -> LiveTimeline:
    """A state to fold into without touching the cached one until the transaction commits."""
    return replace(
        state,
        compactor=state.compactor.copy(),
        points=list(state.points),
        open=replace(state.open) if state.open is not None else None,
    )
