"""The load-management scheduler: recompute allocations on events and a timer, push limits."""

import asyncio
import contextlib
import logging
import math
from collections.abc import Callable
from datetime import datetime
from types import TracebackType

from app.db.engine import SessionFactory
from app.db.models import EvseAllocation
from app.db.types import utcnow
from app.domain.commands import CommandStatus
from app.domain.errors import InvalidInput
from app.events import EventBus, topics
from app.loadmgmt.decisions import Demand, decide
from app.loadmgmt.inputs import demand_of
from app.loadmgmt.openadr import OpenAdrVen
from app.loadmgmt.profiles import ProfileSender
from app.services import capacity, capacity_state
from app.services.capacity_compiler import compile_site, safe_defaults
from app.services.ports import StationCommander
from app.settings import Settings

log = logging.getLogger(__name__)


class LoadScheduler:
    """Owns the scheduler task (enter it in the lifespan). State is in memory: after a restart
    every station gets its default profile again and every session a fresh limit."""

    def __init__(
        self,
        *,
        settings: Settings,
        session_factory: SessionFactory,
        bus: EventBus,
        commander: StationCommander,
        clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.bus = bus
        self.commander = commander
        self.clock = clock
        self.recomputes = 0
        self._dirty = asyncio.Event()
        self._watch_changed = asyncio.Event()
        self._watched: frozenset[str] = frozenset()
        self.profiles = ProfileSender(
            commander=commander,
            timeout_s=settings.loadmgmt_command_timeout_s,
            retry_after_s=settings.loadmgmt_interval_s,
        )
        self._stations_to_reset: set[str] = set()
        self._written: dict[int, tuple[int | None, float, str, str]] = {}  # EvseAllocation rows
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def wire(
        cls,
        settings: Settings,
        session_factory: SessionFactory,
        bus: EventBus,
        commander: StationCommander,
    ) -> "LoadScheduler":
        """The app's scheduler, on the wall clock (for a one-line entry in the lifespan)."""
        return cls(
            settings=settings,
            session_factory=session_factory,
            bus=bus,
            commander=commander,
            clock=utcnow,
        )

    async def __aenter__(self) -> "LoadScheduler":
        self._task = asyncio.create_task(self._run(), name="loadmgmt-scheduler")
        return self

    async def __aexit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def poke(self) -> None:
        """Ask for a recompute soon (events call this; so may tests)."""
        self._dirty.set()

    async def _run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(
                self._listen(
                    frozenset(
                        {topics.ALL_EVSE_STATUS, topics.ALL_SESSIONS, capacity.LIMITS_CHANGED}
                    )
                )
            )
            tasks.create_task(self._listen_watched())
            if self.settings.openadr_vtn_url:
                ven = OpenAdrVen(
                    settings=self.settings,
                    session_factory=self.session_factory,
                    bus=self.bus,
                    clock=self.clock,
                )
                tasks.create_task(ven.run())
            wait_s = 0.0
            while True:
                try:
                    async with asyncio.timeout(wait_s):
                        await self._dirty.wait()
                except TimeoutError:
                    pass
                self._dirty.clear()
                try:
                    wait_s = await self.recompute()
                except Exception:  # a scheduler tick must never end the loop
                    log.exception("load-management recompute failed")
                    wait_s = self.settings.loadmgmt_interval_s

    async def _listen(self, names: frozenset[str]) -> None:
        if not names:
            await asyncio.Event().wait()  # nothing to watch yet: wait to be replaced
        async with self.bus.subscribe(*names) as events:
            async for _topic, payload in events:
                if payload.get("type") in ("StationBooted", "StationConnected"):
                    self._forget_station(str(payload.get("station_id")))
                self._dirty.set()

    async def _listen_watched(self) -> None:
        """Meter values of the active sessions and boots of the managed stations."""
        while True:
            self._watch_changed.clear()
            listener = asyncio.create_task(self._listen(self._watched))
            try:
                await self._watch_changed.wait()
            finally:
                listener.cancel()
                # asyncio.wait, not `suppress(CancelledError)`: suppressing would also swallow
                # this task's own cancellation at shutdown and loop forever.
                await asyncio.wait([listener])

    def _forget_station(self, station_id: str) -> None:
        """A station that (re)booted may have lost its profiles: send them all again."""
        self._stations_to_reset.add(station_id)

    async def recompute(self) -> float:
        """One pass; returns the seconds until the next timed pass."""
        self.recomputes += 1
        now = self.clock()
        interval = self.settings.loadmgmt_interval_s
        snap = await capacity_state.read_snapshot(session_factory=self.session_factory, now=now)
        try:
            site = compile_site(
                snap.nodes, voltage_v=self.settings.loadmgmt_voltage_v, overrides=snap.limits_now
            )
        except InvalidInput:
            log.exception("capacity tree does not compile; no limits sent")
            return interval
        addresses = snap.evse_addresses
        profiles = self.profiles
        reset, self._stations_to_reset = self._stations_to_reset, set()
        for evse_id, (station_id, _) in addresses.items():
            if station_id in reset:
                self.profiles.forget(evse_id)
        online = {s for s, _ in addresses.values() if self.commander.is_connected(s)}
        defaults = safe_defaults(site)
        await profiles.send_defaults(site, defaults, addresses, online)
        fixed: dict[int, float] = {}
        for evse_id in site.evses:
            station_id = addresses[evse_id][0]
            if station_id not in online:
                fixed[evse_id] = profiles.defaults.get(evse_id, defaults.get(evse_id, 0.0))
            elif evse_id in profiles.refused and profiles.refused[evse_id][1] > now:
                fixed[evse_id] = profiles.refused[evse_id][0]
        sessions = {s.evse_id: s for s in snap.sessions}
        for evse_id in list(profiles.held):
            if (
                evse_id not in sessions
                or sessions[evse_id].session_id != profiles.held[evse_id].session_id
            ):
                del profiles.held[evse_id]
        demands: list[Demand] = [
            demand_of(
                s,
                now=now,
                settings=self.settings,
                held_a=profiles.held_a(s.evse_id),
                voltage_v=site.evses[s.evse_id].voltage_v,
            )
            for s in snap.sessions
        ]
        plan = decide(
            site,
            demands,
            period_s=interval,
            fixed_a=fixed,
            held_a={e: h.limit_a for e, h in profiles.held.items()},
        )
        # Lower limits first: room is freed before anyone is given more of it. If a station
        # refuses to lower, nobody is raised; the next pass counts that EVSE as uncontrolled.
        drawing = {e: _drawing(profiles, e) for e in plan.to_send}
        lower = {e: a for e, a in plan.to_send.items() if a < drawing[e]}
        statuses = await profiles.send_limits(lower, sessions, site, now)
        if all(status == CommandStatus.ACCEPTED.value for status in statuses.values()):
            higher = {e: a for e, a in plan.to_send.items() if e not in lower}
            statuses |= await profiles.send_limits(higher, sessions, site, now)
        else:
            self._dirty.set()
        deferred = {
            e: min(drawing[e], site.network.max_on_a[site.network.index[str(e)]])
            for e in plan.to_send
            if e not in statuses
        }
        rows = [
            EvseAllocation(
                evse_id=evse_id,
                session_id=sessions[evse_id].session_id,
                limit_a=deferred.get(evse_id, amps),
                reason=plan.reasons[evse_id],
                status="DEFERRED"
                if evse_id in deferred
                else statuses.get(evse_id, "OFFLINE" if evse_id in fixed else "HELD"),
                updated_at=now,
            )
            for evse_id, amps in plan.limits_a.items()
        ]
        rows += [
            EvseAllocation(
                evse_id=evse_id,
                session_id=None,
                limit_a=profiles.defaults.get(evse_id, defaults.get(evse_id, 0.0)),
                reason="idle: safe default profile",
                status="OFFLINE" if addresses[evse_id][0] not in online else "DEFAULT",
                updated_at=now,
            )
            for evse_id in site.evses
            if evse_id not in plan.limits_a
        ]
        await capacity_state.record_allocations(
            session_factory=self.session_factory, rows=self._changed(rows)
        )
        if statuses:
            await self._publish(snap, {e: plan.to_send[e] for e in statuses}, now)
        self._watch(snap)
        until_change = (
            (snap.next_change_at - now).total_seconds() if snap.next_change_at else interval
        )
        return max(0.0, min(interval, until_change))

    def _changed(self, rows: list[EvseAllocation]) -> list[EvseAllocation]:
        """Rows that say something new (a row HELD unchanged keeps its first status)."""
        changed = []
        for row in rows:
            key = (row.session_id, row.limit_a, row.reason)
            last = self._written.get(row.evse_id)
            if last is not None and last[:3] == key and row.status in ("HELD", last[3]):
                continue
            self._written[row.evse_id] = (*key, row.status)
            changed.append(row)
        return changed

    async def _publish(
        self, snap: capacity_state.Snapshot, sent: dict[int, float], now: datetime
    ) -> None:
        location_of = {n.evse_id: n.location_id for n in snap.nodes if n.evse_id is not None}
        by_location: dict[int, list[dict[str, object]]] = {}
        session_of = {s.evse_id: s.session_id for s in snap.sessions}
        for evse_id, amps in sent.items():
            location_id = location_of.get(evse_id)
            if location_id is not None:
                by_location.setdefault(location_id, []).append(
                    {"evse_id": evse_id, "session_id": session_of.get(evse_id), "limit_a": amps}
                )
        for location_id, evses in by_location.items():
            await self.bus.publish(
                capacity.allocation_changed(location_id),
                {"type": "AllocationChanged", "location_id": location_id,
                 "changed_at": now.isoformat(), "evses": evses},
            )  # fmt: skip

    def _watch(self, snap: capacity_state.Snapshot) -> None:
        wanted = frozenset(
            [topics.session_updated(s.session_id) for s in snap.sessions]
            + [topics.station_status(s) for s, _ in snap.evse_addresses.values()]
        )
        if wanted != self._watched:
            self._watched = wanted
            self._watch_changed.set()


def _drawing(profiles: ProfileSender, evse_id: int) -> float:
    """The most an EVSE may draw now: its TxProfile, else its default, else anything."""
    held = profiles.held_a(evse_id)
    return held if held is not None else profiles.defaults.get(evse_id, math.inf)
