"""Which of a set of stations changed, told by the event bus: at once for connectivity, EVSE
status and session start/end; power (meter values) at most once per station per interval.
A whole-network feed also takes in the stations that join the network while it runs."""

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager

from sqlmodel import col, select

from app.db.engine import SessionFactory
from app.db.models import ChargingSession
from app.domain.enums import SessionStatus
from app.events import EventBus, topics
from app.events.bus import Event, Subscription

Clock = Callable[[], float]
Lookup = Callable[[str], Awaitable[int | None]]
"""Station id -> its location id if the feed's reader may see it, else None."""
Opening = AbstractAsyncContextManager[Subscription]
BASE = "base"


class _Merged:
    """Several bus subscriptions read as one: the stations' base topics, plus one per active
    session (sessions start and end while the feed runs). Each open one has a pending read."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._open: dict[
            object, tuple[AbstractAsyncContextManager[Subscription], Subscription]
        ] = {}
        self._reads: dict[asyncio.Task[Event], object] = {}

    async def add(self, key: object, *names: str) -> None:
        if key in self._open:
            return
        opening = self._bus.subscribe(*names)
        subscription = await opening.__aenter__()
        self._open[key] = (opening, subscription)
        self._reads[asyncio.create_task(subscription.get())] = key

    async def remove(self, key: object) -> None:
        opened = self._open.pop(key, None)
        if opened is None:
            return
        for read in [read for read, owner in self._reads.items() if owner == key]:
            del self._reads[read]
            read.cancel()
            await asyncio.gather(read, return_exceptions=True)
        await opened[0].__aexit__(None, None, None)

    async def get(self, within_s: float | None) -> Event | None:
        """The next event of any subscription; None after `within_s` seconds without one."""
        done = [read for read in self._reads if read.done()]
        if not done:
            finished, _ = await asyncio.wait(
                self._reads, timeout=within_s, return_when=asyncio.FIRST_COMPLETED
            )
            done = list(finished)
        if not done:
            return None
        read = done[0]
        key = self._reads.pop(read)
        self._reads[asyncio.create_task(self._open[key][1].get())] = key
        return read.result()

    async def close(self) -> None:
        for key in list(self._open):
            await self.remove(key)


async def _active_sessions(session_factory: SessionFactory, stations: set[str]) -> list[int]:
    ids = sorted(stations)
    found: list[int] = []
    async with session_factory() as db:
        for start in range(0, len(ids), 500):
            rows = await db.exec(
                select(ChargingSession.id).where(
                    col(ChargingSession.station_id).in_(ids[start : start + 500]),
                    ChargingSession.status == SessionStatus.ACTIVE,
                )
            )
            found += [session_id for session_id in rows.all() if session_id is not None]
    return found


async def station_changes(
    *,
    bus: EventBus,
    session_factory: SessionFactory,
    stations: Mapping[str, int],
    coalesce_s: float,
    clock: Clock = time.monotonic,
    joining: Lookup | None = None,
) -> AsyncGenerator[list[str], None]:
    """Yield the ids of the `stations` (id → location id) to re-read, in batches, forever.

    Listening starts before the first yield (an empty batch): a caller that reads the state
    after it misses nothing. A power change of a station re-read less than `coalesce_s` ago
    waits for the rest of that interval; any other change goes at once.

    With `joining`, the feed is the whole network's (the caller's part of it): a station it
    does not watch yet that is added (`topics.ALL_STATIONS`) or reports an EVSE status (its
    first connection) is looked up with `joining` and, if the caller may see it, watched from
    then on and yielded at once.
    """
    watched = set(stations)
    if joining is None:
        base = {topics.evse_status(location) for location in set(stations.values())}
    else:  # any location, also those of stations still to come
        base = {topics.ALL_EVSE_STATUS, topics.ALL_STATIONS}
    base |= {topics.station_status(station) for station in watched} | {topics.ALL_SESSIONS}
    unseen: set[str] = set()  # stations `joining` said the caller may not see
    feed = _Merged(bus)
    try:
        await feed.add(BASE, *sorted(base))
        for key in await _active_sessions(session_factory, watched):
            await feed.add(key, topics.session_updated(key))
        yield []
        emitted: dict[str, float] = {}
        pending: dict[str, float] = {}  # station → when its coalesced power change is due
        while True:
            now = clock()
            wait = max(0.0, min(pending.values()) - now) if pending else None
            event = await feed.get(wait)
            now = clock()
            due = {station for station, at in pending.items() if at <= now}
            station = str(event[1].get("station_id", "")) if event is not None else ""
            if event is not None and joining is not None and station and station not in watched:
                added = event[1].get("type") == "StationAdded"
                if (added or station not in unseen) and await joining(station) is not None:
                    watched.add(station)
                    unseen.discard(station)
                    await feed.add((BASE, station), topics.station_status(station))
                else:
                    unseen.add(station)
            if event is not None and station in watched:
                topic, payload = event
                kind = payload.get("type")
                if kind == "SessionUpdated":
                    last = emitted.get(station)
                    if last is None or now - last >= coalesce_s:
                        due.add(station)
                    else:
                        pending.setdefault(station, last + coalesce_s)
                else:
                    due.add(station)
                # Follow the power of the sessions that start; stop once they end.
                session = payload.get("session_id")
                if topic == topics.ALL_SESSIONS and isinstance(session, int):
                    if kind == "SessionStarted":
                        await feed.add(session, topics.session_updated(session))
                    elif kind == "SessionEnded":
                        await feed.remove(session)
            if due:
                for station in due:
                    emitted[station] = now
                    pending.pop(station, None)
                yield sorted(due)
    finally:
        await feed.close()
