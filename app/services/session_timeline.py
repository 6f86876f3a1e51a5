"""A session's priced timeline: its meter samples turned into contiguous charging/idle periods.

A period counts as idle (OCPI PARKING_TIME) when the register did not advance, or when the
power sampled at both its ends is below `IDLE_POWER_W` (a full EV trickles a few W).

`compact_periods` joins neighbouring periods wherever the tariff cannot tell them apart, so a
4-hour session sampled every 15 s (960 periods) prices as a handful: the engine splits a period's
energy in proportion to time only at its cut instants (local clock times, DST changes, duration
and kWh thresholds) and reads power only for power/current restrictions, so joins that span no
cut instant, and (with such restrictions) join equal powers only, leave every amount unchanged.
"""

import copy
from bisect import bisect_right
from collections.abc import Sequence
from datetime import datetime, time, timedelta, tzinfo
from fractions import Fraction
from itertools import pairwise
from typing import NamedTuple

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.models import ChargingSession
from app.db.models import MeterSample as SampleRow
from app.domain.metering import ENERGY_IMPORT_REGISTER, POWER_IMPORT
from app.domain.tariffs import ChargingPeriod, MeterSample, Tariff
from app.domain.tariffs.pieces import _clock_instants  # the engine's own cut instants

IDLE_POWER_W = 50
_PHASES = ("L1", "L2", "L3", "L1-N", "L2-N", "L3-N")


async def energy_samples(db: AsyncSession, session_id: int) -> list[MeterSample]:
    """The session's register and power readings, one per instant, in time order."""
    statement = (
        select(SampleRow.sampled_at, SampleRow.measurand, SampleRow.phase, SampleRow.value)
        .where(
            SampleRow.session_id == session_id,
            col(SampleRow.measurand).in_((ENERGY_IMPORT_REGISTER, POWER_IMPORT)),
        )
        .order_by(col(SampleRow.sampled_at), col(SampleRow.id))
    )
    energy: dict[datetime, float] = {}
    total_power: dict[datetime, float] = {}
    phase_power: dict[datetime, float] = {}
    for at, measurand, phase, value in (await db.exec(statement)).all():
        if measurand == ENERGY_IMPORT_REGISTER:
            if phase is None or at not in energy:
                energy[at] = value
        elif phase is None:
            total_power[at] = value
        elif phase in _PHASES:
            phase_power[at] = phase_power.get(at, 0.0) + value
    samples = []
    for at, register in energy.items():  # dicts keep the query's time order
        power = total_power.get(at, phase_power.get(at))
        samples.append(
            MeterSample(at, round(register), round(power) if power is not None else None)
        )
    return samples


class Segment(NamedTuple):
    """A period before validation: cheap to build and join on the OCPP hot path."""

    start: datetime
    end: datetime
    energy_wh: int
    charging: bool
    power_w: int | None


def session_segments(
    session: ChargingSession, samples: Sequence[MeterSample], *, until: datetime | None = None
) -> list[Segment]:
    """Contiguous segments from the session's start to `until` (default: the last sample).

    The register is read as never going backwards (a glitch must not fail a bill), and
    `until` past the last sample closes the session at `meter_start_wh + energy_wh`.
    """
    points: list[tuple[datetime, int, int | None]] = [
        (session.started_at, session.meter_start_wh, None)
    ]
    for sample in samples:
        if until is not None and sample.timestamp > until:
            break
        register = max(int(sample.energy_register_wh), points[-1][1])
        power = int(sample.power_w) if sample.power_w is not None else None
        if sample.timestamp <= points[-1][0]:
            points[-1] = (points[-1][0], register, power if power is not None else points[-1][2])
            continue
        points.append((sample.timestamp, register, power))
    if until is not None and until > points[-1][0]:
        final = max(session.meter_start_wh + session.energy_wh, points[-1][1])
        points.append((until, final, None))
    segments = []
    for (t0, e0, p0), (t1, e1, p1) in pairwise(points):
        trickle = p0 is not None and p1 is not None and p0 < IDLE_POWER_W and p1 < IDLE_POWER_W
        charging = e1 > e0 and not trickle
        segments.append(Segment(t0, t1, e1 - e0, charging, p0 if charging else 0))
    return segments


def to_periods(segments: Sequence[Segment]) -> list[ChargingPeriod]:
    return [
        ChargingPeriod(s.start, s.end, s.energy_wh, charging=s.charging, power_w=s.power_w)
        for s in segments
    ]


class Compactor:
    """`compact_periods` fed one segment at a time, so a live session's joined periods grow
    with each meter value instead of being rebuilt from its whole timeline.

    Cut instants are computed up to a horizon that moves forward as segments arrive: clock
    instants are found per local day from the origin, so the cuts before a segment's end are
    the same whatever the horizon, and so are the joins. `periods(tail)` prices what was added
    plus a provisional tail (the last segment, which the next sample may still change).
    """

    def __init__(self, tariff: Tariff, zone: tzinfo, origin: datetime) -> None:
        rules = [e.restrictions for e in tariff.elements if e.restrictions is not None]
        self._zone = zone
        self._origin = origin
        self._clock: set[time] = {
            t for r in rules for t in (r.start_time, r.end_time) if t is not None
        }
        if any(r.uses_clock for r in rules):
            self._clock.add(time(0))
        self._duration_cuts = [
            origin + timedelta(seconds=s)
            for r in rules
            for s in (r.min_duration_s, r.max_duration_s)
            if s is not None
        ]
        self._thresholds = sorted(
            {Fraction(k) * 1000 for r in rules for k in (r.min_kwh, r.max_kwh) if k is not None}
        )
        self._by_power = any(
            r.min_power_kw is not None
            or r.max_power_kw is not None
            or r.min_current_a is not None
            or r.max_current_a is not None
            for r in rules
        )
        self._cuts: list[datetime] = sorted(self._duration_cuts)
        self._horizon = origin
        self._out: list[Segment] = []
        self._run: Segment | None = None
        self._energy_before = 0  # Wh delivered before `_run`

    def copy(self) -> "Compactor":
        """A compactor that goes on from here without changing this one (cuts are shared:
        `_reach` replaces the list, never changes it)."""
        twin = copy.copy(self)
        twin._out = list(self._out)
        return twin

    def _reach(self, end: datetime, ahead: timedelta) -> None:
        if end <= self._horizon or not self._clock:
            return
        self._horizon = end + ahead
        clock = _clock_instants(self._origin, self._horizon, self._zone, self._clock)
        self._cuts = sorted([*clock, *self._duration_cuts])

    def _joinable(self, run: Segment, energy_before: int, segment: Segment) -> bool:
        cuts, thresholds = self._cuts, self._thresholds
        i = bisect_right(cuts, run.start) if cuts else 0
        j = bisect_right(thresholds, energy_before) if thresholds else 0
        return (
            segment.charging == run.charging
            and not (i < len(cuts) and cuts[i] < segment.end)
            and not (
                j < len(thresholds)
                and thresholds[j] < energy_before + run.energy_wh + segment.energy_wh
            )
            and (not self._by_power or (run.power_w is not None and run.power_w == segment.power_w))
        )

    def add(self, segment: Segment, *, ahead: timedelta = timedelta(days=1)) -> None:
        self._reach(segment.end, ahead)
        run = self._run
        if run is None:
            self._run = segment
        elif self._joinable(run, self._energy_before, segment):
            self._run = run._replace(end=segment.end, energy_wh=run.energy_wh + segment.energy_wh)
        else:
            self._out.append(run)
            self._energy_before += run.energy_wh
            self._run = segment

    def periods(self, tail: Sequence[Segment] = ()) -> list[ChargingPeriod]:
        """The joined periods of what was added, then of `tail` (without keeping `tail`)."""
        out, run, energy_before = list(self._out), self._run, self._energy_before
        for segment in tail:
            self._reach(segment.end, timedelta(days=1))
            if run is None:
                run = segment
            elif self._joinable(run, energy_before, segment):
                run = run._replace(end=segment.end, energy_wh=run.energy_wh + segment.energy_wh)
            else:
                out.append(run)
                energy_before += run.energy_wh
                run = segment
        return to_periods([*out, run] if run is not None else out)


def compact_periods(
    tariff: Tariff, segments: Sequence[Segment], zone: tzinfo
) -> list[ChargingPeriod]:
    """`segments` joined where the join cannot change the price of `tariff` (see the module)."""
    if len(segments) < 2:
        return to_periods(segments)
    compactor = Compactor(tariff, zone, segments[0].start)
    compactor._reach(segments[-1].end, timedelta(0))  # the cuts of the whole span, at once
    for segment in segments:
        compactor.add(segment, ahead=timedelta(0))
    return compactor.periods()
