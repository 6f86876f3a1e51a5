"""The load-management scheduler: recompute allocations on events and a timer, push limits."""

import asyncio
import contextlib
import functools
import logging
import math
from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType

from sqlmodel import select

from app.db.engine import SessionFactory
from app.db.models import CapacityNode, EvseAllocation
from app.db.types import utcnow
from app.domain.commands import CommandStatus
from app.domain.errors import InvalidInput
from app.events import EventBus, topics
from app.loadmgmt.ahead import site_ahead, tx_plan
from app.loadmgmt.decisions import Demand, SiteAllocators, decide
from app.loadmgmt.inputs import demand_of
from app.loadmgmt.openadr import OpenAdrVen
from app.loadmgmt.profiles import ProfileSender
from app.loadmgmt.records import allocation_rows, publish_allocations
from app.loadmgmt.sites import SiteIndex, fingerprint, split_trees
from app.services import capacity, capacity_state
from app.services.capacity_compiler import compile_site, safe_defaults
from app.services.ports import StationCommander
from app.settings import Settings

log = logging.getLogger(__name__)


class LoadScheduler:
    """Owns the scheduler task (enter it in the lifespan). State is in memory: after a restart
    every station gets its default profile again and every session a fresh limit.

    Each capacity tree is a site, allocated on its own: an event recomputes only the sites it
    names (its station, EVSE or node), the timer all of them, and a site whose inputs did not
    change since its last pass is skipped (`solved_sites`: the sites the last pass allocated).
    """

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
        self.allocators = SiteAllocators()
        self.solved_sites: dict[int, int] = {}  # site root -> parts its allocator solved
        self._index = SiteIndex()
        self._inputs: dict[int, tuple[object, ...]] = {}  # site root -> inputs of its last pass
        self._pending: set[int] | None = set()  # sites events asked for; None: all
        self._topics: dict[int, frozenset[str]] = {}  # site root -> the topics it listens to
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
        """Ask for a recompute of every site soon (tests may call this)."""
        self._mark(None)

    def _mark(self, sites: set[int] | None) -> None:
        if sites is None or self._pending is None:
            self._pending = None
        else:
            self._pending |= sites
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
            loop = asyncio.get_running_loop()
            full_at = loop.time()
            while True:
                try:
                    async with asyncio.timeout(max(0.0, full_at - loop.time())):
                        await self._dirty.wait()
                except TimeoutError:
                    pass
                self._dirty.clear()
                # Events keep coming on a busy network: the timed pass over every site is due
                # by the clock, not by a quiet moment.
                full = loop.time() >= full_at
                sites, self._pending = (None if full else self._pending), set()
                try:
                    wait_s = await self.recompute(sites)
                except Exception:  # a scheduler tick must never end the loop
                    log.exception("load-management recompute failed")
                    wait_s = self.settings.loadmgmt_interval_s
                # A full pass sets the next one; any pass may bring it forward (a limit starts).
                next_at = loop.time() + wait_s
                full_at = next_at if full or sites is None else min(full_at, next_at)

    async def _listen(self, names: frozenset[str]) -> None:
        if not names:
            await asyncio.Event().wait()  # nothing to watch yet: wait to be replaced
        async with self.bus.subscribe(*names) as events:
            async for topic, payload in events:
                if payload.get("type") in ("StationBooted", "StationConnected"):
                    self._forget_station(str(payload.get("station_id")))
                tree_event = topic == capacity.LIMITS_CHANGED
                sites = self._index.sites_of(payload, tree_event=tree_event)
                station_id = payload.get("station_id")
                if sites is None and not tree_event and station_id is not None:
                    try:
                        placed = await self._in_a_tree(str(station_id))
                    except Exception:  # loop top: when unsure, every site
                        log.exception("could not look up the capacity tree of %s", station_id)
                        placed = True
                    if not placed:
                        continue  # concerns no site: no pass
                self._mark(sites)

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

    async def _in_a_tree(self, station_id: str) -> bool:
        """Whether a station the index does not place is in a capacity tree now (one added
        since the index was built, announced or not). Most stations of a network may be in
        none: one indexed read each, where every status and session event of theirs was a
        full pass (every node and active session read: 50-290 ms of CPU each under load)."""
        async with self.session_factory() as db:
            found = await db.exec(
                select(CapacityNode.id).where(CapacityNode.station_id == station_id).limit(1)
            )
            return found.first() is not None

    def _forget_station(self, station_id: str) -> None:
        """A station that (re)booted may have lost its profiles: send them all again."""
        self._stations_to_reset.add(station_id)

    async def recompute(self, sites: set[int] | None = None) -> float:
        """One pass over `sites` (tree roots; None: all); returns the seconds until the next
        timed pass. A site whose inputs did not change since its last pass is skipped."""
        self.recomputes += 1
        now = self.clock()
        snap = await capacity_state.read_snapshot(
            session_factory=self.session_factory,
            now=now,
            evses_of=None if sites is None else functools.partial(_evses_of, sites=sites),
        )
        trees = split_trees(snap.nodes)
        self._index = SiteIndex.build(trees)
        for gone in set(self._inputs) - set(trees):
            del self._inputs[gone]
        for gone in set(self._topics) - set(trees):
            del self._topics[gone]
        self.allocators.keep_only(set(trees))
        self.profiles.tick(now)
        self.solved_sites = {}
        rows: list[EvseAllocation] = []
        sent: dict[int, float] = {}
        for root in sorted(trees if sites is None else sites & set(trees)):
            try:
                site_rows, site_sent = await self._recompute_site(root, trees[root], snap, now)
            except InvalidInput:
                log.exception("capacity tree %s does not compile; no limits sent to it", root)
                continue
            rows += site_rows
            sent |= site_sent
        await capacity_state.record_allocations(
            session_factory=self.session_factory, rows=self._changed(rows)
        )
        if sent:
            await publish_allocations(self.bus, snap, sent, now)
        self._watch()
        interval = self.settings.loadmgmt_interval_s
        until_change = (
            (snap.next_change_at - now).total_seconds() if snap.next_change_at else interval
        )
        return max(0.0, min(interval, until_change))

    async def _recompute_site(
        self, root: int, nodes: list[CapacityNode], snap: capacity_state.Snapshot, now: datetime
    ) -> tuple[list[EvseAllocation], dict[int, float]]:
        """Allocate one site and send what moved; its rows and the TxProfile limits sent."""
        node_ids = {n.id for n in nodes}
        limits = [x for x in snap.limits if x.node_id in node_ids]
        site = compile_site(
            nodes,
            voltage_v=self.settings.loadmgmt_voltage_v,
            overrides={k: v for k, v in snap.limits_now.items() if k in node_ids},
        )
        addresses = {e: snap.evse_addresses[e] for e in site.evses}
        stations: dict[str, list[int]] = {}
        for evse_id, (station_id, _) in addresses.items():
            stations.setdefault(station_id, []).append(evse_id)
        profiles = self.profiles
        reset = self._stations_to_reset & set(stations)
        self._stations_to_reset -= reset
        for station_id in reset:
            profiles.forget_station(station_id)
            for evse_id in stations[station_id]:
                profiles.forget(evse_id)
        online = {s for s in stations if self.commander.is_connected(s)}
        defaults = safe_defaults(site)
        fixed: dict[int, float] = {}
        for evse_id in site.evses:
            if addresses[evse_id][0] not in online:
                fixed[evse_id] = profiles.defaults.get(evse_id, defaults.get(evse_id, 0.0))
            elif evse_id in profiles.refused and profiles.refused[evse_id][1] > now:
                fixed[evse_id] = profiles.refused[evse_id][0]
        sessions = {s.evse_id: s for s in snap.sessions if s.evse_id in site.evses}
        # Meter values of its sessions and boots of its stations wake this site.
        self._topics[root] = frozenset(
            [topics.session_updated(s.session_id) for s in sessions.values()]
            + [topics.station_status(s) for s in stations]
        )
        inputs = fingerprint(nodes, limits, sessions.values(), online=online, fixed=fixed, now=now)
        if not reset and self._inputs.get(root) == inputs:
            return [], {}
        self._inputs.pop(root, None)
        ahead = site_ahead(
            nodes, limits, now=now, voltage_v=self.settings.loadmgmt_voltage_v, stations=stations
        )
        delivered = await profiles.send_station_max(ahead.station_max, online, now)
        delivered &= await profiles.send_defaults(site, ahead.defaults, addresses, online, now)
        for evse_id in [e for e in profiles.held if e in site.evses]:
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
            for s in sessions.values()
        ]
        plan = decide(
            site,
            demands,
            period_s=self.settings.loadmgmt_interval_s,
            fixed_a=fixed,
            held_a={e: h.limit_a for e, h in profiles.held.items() if e in site.evses},
            allocator=self.allocators.for_site(root),
        )
        self.solved_sites[root] = plan.solved_parts
        # Each TxProfile carries the coming drops of its EVSE's safe default: one whose schedule
        # ahead moved is sent again, even if its limit now did not.
        plans = {
            e: tx_plan(amps, ahead.defaults.get(e), now)
            for e, amps in plan.limits_a.items()
            if e not in fixed
        }
        for evse_id in profiles.moved_plans(plans, now) - set(plan.to_send):
            plan.to_send[evse_id] = plan.limits_a[evse_id]
        # Lower limits first: room is freed before anyone is given more of it. If a station
        # refuses to lower, nobody is raised; the next pass counts that EVSE as uncontrolled.
        drawing = {e: _drawing(profiles, e) for e in plan.to_send}
        lower = {e: a for e, a in plan.to_send.items() if a < drawing[e]}
        statuses = await profiles.send_limits(lower, sessions, site, now, plans)
        if all(status == CommandStatus.ACCEPTED.value for status in statuses.values()):
            higher = {e: a for e, a in plan.to_send.items() if e not in lower}
            statuses |= await profiles.send_limits(higher, sessions, site, now, plans)
        else:  # the refuser is pinned at what it draws on the next pass: raise the others then
            self._mark({root})
        delivered &= all(status == CommandStatus.ACCEPTED.value for status in statuses.values())
        delivered &= set(statuses) == set(plan.to_send)
        if delivered:
            self._inputs[root] = inputs
        # Else the inputs are not recorded: the next timed pass tries this site again, not
        # at once (a station that never takes a station-max profile must not spin the loop).
        rows = allocation_rows(
            plan=plan, statuses=statuses, site=site, sessions=sessions, drawing=drawing,
            idle_a={e: profiles.defaults.get(e, defaults.get(e, 0.0)) for e in site.evses},
            offline={e for e, (s, _) in addresses.items() if s not in online},
            fixed=fixed, now=now,
        )  # fmt: skip
        return rows, {e: plan.to_send[e] for e in statuses}

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

    def _watch(self) -> None:
        wanted = frozenset().union(*self._topics.values())
        if wanted != self._watched:
            self._watched = wanted
            self._watch_changed.set()


def _evses_of(nodes: Sequence[CapacityNode], *, sites: set[int]) -> list[int]:
    """The EVSEs of the given sites: an event's pass reads only their sessions."""
    trees = split_trees(nodes)
    return [n.evse_id for r in sites & set(trees) for n in trees[r] if n.evse_id is not None]


def _drawing(profiles: ProfileSender, evse_id: int) -> float:
    """The most an EVSE may draw now: its TxProfile, else its default, else anything."""
    held = profiles.held_a(evse_id)
    return held if held is not None else profiles.defaults.get(evse_id, math.inf)
