"""Limits ahead: each EVSE's safe default and each station's max as schedules over the horizon."""

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.db.models import CapacityLimit, CapacityNode
from app.services.capacity_compiler import CompiledSite, compile_site, safe_defaults

#: How far ahead known limit changes are written into the profiles stations hold.
HORIZON = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Schedule:
    """A limit in A from each start on (the first start is when it was computed)."""

    periods: tuple[tuple[datetime, float], ...]

    def at(self, when: datetime) -> float:
        value = self.periods[0][1]
        for start, limit in self.periods:
            if start > when:
                break
            value = limit
        return value

    def seen_from(self, now: datetime) -> tuple[tuple[datetime, float], ...]:
        """What holds at `now`, then each later change: two schedules that agree from `now` on
        are equal here, so a profile is re-sent only when the limits ahead really moved."""
        out = [(now, self.at(now))]
        for start, limit in self.periods:
            if start > now and limit != out[-1][1]:
                out.append((start, limit))
        return tuple(out)

    def later_periods(self, now: datetime) -> tuple[tuple[int, float], ...]:
        """The changes after `now` as (whole seconds after `now`, limit), for an OCPP schedule.

        A drop is rounded to the second before it, a rise to the second after: the station is
        never above the limit in force.
        """
        out: list[tuple[int, float]] = []
        ahead = self.seen_from(now)
        for (_, before), (start, limit) in itertools.pairwise(ahead):
            seconds = (start - now).total_seconds()
            whole = math.floor(seconds) if limit < before else math.ceil(seconds)
            whole = max(whole, out[-1][0] + 1 if out else 1)
            out.append((whole, limit))
        return tuple(out)


@dataclass(slots=True)
class Ahead:
    """Schedules of one site: per EVSE its safe default, per station its max and phases."""

    defaults: dict[int, Schedule] = field(default_factory=dict)
    station_max: dict[str, tuple[Schedule, int]] = field(default_factory=dict)


def change_points(limits: Sequence[CapacityLimit], now: datetime) -> list[datetime]:
    """`now` and every start or end of a limit within the horizon, in order."""
    end = now + HORIZON
    points = {now}
    for limit in limits:
        points |= {t for t in (limit.valid_from, limit.valid_to) if now < t < end}
    return sorted(points)


def in_force(
    limits: Sequence[CapacityLimit], when: datetime
) -> dict[int, list[tuple[float | None, int | None]]]:
    found: dict[int, list[tuple[float | None, int | None]]] = {}
    for limit in limits:
        if limit.valid_from <= when < limit.valid_to:
            found.setdefault(limit.node_id, []).append((limit.limit_a, limit.limit_w))
    return found


def station_caps(
    site: CompiledSite, stations: Mapping[str, Sequence[int]]
) -> dict[str, tuple[float, int]]:
    """Per station: the most it may draw alone, A per phase, and its number of phases.

    The rule: the tightest limit on the path from the station to the root (its own node's,
    else the smallest above it), as that station alone sees it. Not a proportional share: a
    station-max profile caps every TxProfile the scheduler sends, so it must leave room for
    the whole circuit when the station charges alone. Keeping all stations together within the
    limits when the backend is away is the safe default profiles' job.
    """
    net = site.network
    caps: dict[str, tuple[float, int]] = {}
    for station_id, evse_ids in stations.items():
        ids = {str(e) for e in evse_ids}
        # With no limit above it, a station still never draws more than all its EVSEs' maxima.
        cap = sum(net.max_on_a[net.index[e]] for e in ids)
        for constraint in net.constraints:
            weight = max((abs(c) for e, c in constraint.coeffs.items() if e in ids), default=0.0)
            if weight > 0:
                cap = min(cap, constraint.limit_a / weight)
        phases = max(site.evses[e].number_phases for e in evse_ids)
        caps[station_id] = (math.floor(cap * 10 + 1e-9) / 10, phases)
    return caps


def site_ahead(
    nodes: Sequence[CapacityNode],
    limits: Sequence[CapacityLimit],
    *,
    now: datetime,
    voltage_v: float,
    stations: Mapping[str, Sequence[int]],
) -> Ahead:
    """The site compiled at each change point within the horizon, its defaults and caps."""
    defaults: dict[int, list[tuple[datetime, float]]] = {}
    maxes: dict[str, list[tuple[datetime, float]]] = {}
    phases: dict[str, int] = {}
    for point in change_points(limits, now):
        site = compile_site(nodes, voltage_v=voltage_v, overrides=in_force(limits, point))
        for evse_id, amps in safe_defaults(site).items():
            defaults.setdefault(evse_id, []).append((point, amps))
        for station_id, (cap, number) in station_caps(site, stations).items():
            maxes.setdefault(station_id, []).append((point, cap))
            phases[station_id] = number
    return Ahead(
        defaults={e: Schedule(tuple(p)) for e, p in defaults.items()},
        station_max={s: (Schedule(tuple(p)), phases[s]) for s, p in maxes.items()},
    )


def tx_plan(amps: float, default: Schedule | None, now: datetime) -> Schedule:
    """A session's TxProfile schedule: its limit now, then never above the EVSE's safe default
    once that drops below it, so all sessions together still fit a coming drop if the backend
    cannot be reached when it starts (a TxProfile overrides the default profile)."""
    periods = [(now, amps)]
    if default is not None:
        periods += [(start, min(amps, limit)) for start, limit in default.seen_from(now)[1:]]
    return Schedule(tuple(periods))
