"""A station's live state (connectivity, EVSE statuses, active sessions' power) in four reads."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.engine import SessionFactory
from app.db.models import (
    ChargingSession,
    ChargingStation,
    Evse,
    Location,
    StationConnectivityInterval,
)
from app.domain.enums import SessionStatus
from app.domain.errors import InvalidInput, NotFound
from app.services.alerts import OperatorScope

CHUNK = 500
"""Station ids per IN list: SQLite caps bound parameters, and a network has thousands."""

MAX_LOCATIONS = 100


@dataclass(frozen=True, slots=True)
class EvseLive:
    evse: Evse
    session: ChargingSession | None
    """The EVSE's active session; its `power_w` is the latest meter sample's power."""


@dataclass(frozen=True, slots=True)
class StationLive:
    station: ChargingStation
    connectivity_since: datetime | None
    """Start of the current online or offline spell (None: never connected)."""
    connectivity_reason: str | None
    evses: list[EvseLive]

    @property
    def last_message_at(self) -> datetime | None:
        """The latest frame of any kind the station sent (heartbeat, boot or other)."""
        station = self.station
        heard = [station.last_message_at, station.last_heartbeat_at, station.last_boot_at]
        known = [at for at in heard if at is not None]
        return max(known) if known else None

    @property
    def power_w(self) -> int:
        """What the station delivers now: the sum of its active sessions' latest power."""
        return sum(e.session.power_w or 0 for e in self.evses if e.session is not None)


def _chunks(ids: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(ids), CHUNK):
        yield ids[start : start + CHUNK]


async def read_live(db: AsyncSession, station_ids: Sequence[str]) -> list[StationLive]:
    """The live state of these stations (those that exist), in id order: four statements per
    500 stations, whatever the number of EVSEs and sessions."""
    ids = sorted(set(station_ids))
    stations: list[ChargingStation] = []
    evses: list[Evse] = []
    sessions: dict[int, ChargingSession] = {}
    spells: dict[str, StationConnectivityInterval] = {}
    for chunk in _chunks(ids):
        stations += (
            await db.exec(select(ChargingStation).where(col(ChargingStation.id).in_(chunk)))
        ).all()
        evses += (
            await db.exec(
                select(Evse)
                .where(col(Evse.station_id).in_(chunk))
                .order_by(col(Evse.station_id), col(Evse.ocpp_evse_id))
            )
        ).all()
        # Oldest first, so a newer active session on the same EVSE (a lost stop) wins.
        for session in (
            await db.exec(
                select(ChargingSession)
                .where(
                    col(ChargingSession.station_id).in_(chunk),
                    ChargingSession.status == SessionStatus.ACTIVE,
                )
                .order_by(col(ChargingSession.started_at), col(ChargingSession.id))
            )
        ).all():
            sessions[session.evse_id] = session
        interval = StationConnectivityInterval
        for spell in (
            await db.exec(
                select(interval).where(
                    col(interval.station_id).in_(chunk), col(interval.ended_at).is_(None)
                )
            )
        ).all():
            spells[spell.station_id] = spell
    by_station: dict[str, list[EvseLive]] = {}
    for evse in evses:
        assert evse.id is not None
        by_station.setdefault(evse.station_id, []).append(EvseLive(evse, sessions.get(evse.id)))
    live = []
    for station in sorted(stations, key=lambda s: s.id):
        current = spells.get(station.id)
        live.append(
            StationLive(
                station=station,
                connectivity_since=current.started_at if current else None,
                connectivity_reason=current.reason if current else None,
                evses=by_station.get(station.id, []),
            )
        )
    return live


async def scoped_stations(
    *, session_factory: SessionFactory, scope: OperatorScope, location_ids: Sequence[int] | None
) -> dict[str, int]:
    """Station id → location id of the stations at `location_ids` (None: every location of
    the scope's operator). A location that is not the operator's is NotFound, like a missing one."""
    if location_ids is not None and not 1 <= len(location_ids) <= MAX_LOCATIONS:
        raise InvalidInput(
            f"locationIds has {len(location_ids)} ids: expected 1 to {MAX_LOCATIONS} "
            "(or null for the whole network)"
        )
    async with session_factory() as db:
        statement = select(Location.id)
        if scope.operator_id is not None:
            statement = statement.where(Location.operator_id == scope.operator_id)
        if location_ids is not None:
            statement = statement.where(col(Location.id).in_(location_ids))
        if location_ids is not None:
            owned = set((await db.exec(statement)).all())
            for location_id in location_ids:
                if location_id not in owned:
                    raise NotFound("Location", location_id)
        rows = (
            await db.exec(
                select(ChargingStation.id, ChargingStation.location_id).where(
                    col(ChargingStation.location_id).in_(statement)
                )
            )
        ).all()
    return {station_id: location_id for station_id, location_id in rows if location_id}


async def station_in_scope(
    *, session_factory: SessionFactory, scope: OperatorScope, station_id: str
) -> int | None:
    """The location id of `station_id` if it is one of the scope's stations (at one of its
    operator's locations, as `scoped_stations` counts them), else None."""
    statement = (
        select(ChargingStation.location_id)
        .join(Location, col(Location.id) == col(ChargingStation.location_id))
        .where(ChargingStation.id == station_id)
    )
    if scope.operator_id is not None:
        statement = statement.where(Location.operator_id == scope.operator_id)
    async with session_factory() as db:
        location_id = (await db.exec(statement)).first()
    return location_id or None
