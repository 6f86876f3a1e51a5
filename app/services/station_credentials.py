"""Station passwords: what a handshake may present, and rotation through the protocol.

A rotation generates a password, stores its hash as the station's *next* password, sends it
(1.6 ChangeConfiguration AuthorizationKey, 2.0.1 SetVariables BasicAuthPassword) and, when the
station answers Accepted, makes it *current* and keeps the old one as *previous* for a grace
period. The next password is valid before the answer arrives, so a station that applied it but
whose answer was lost is never locked out; the previous one stays valid until the station
reconnects with the new one or the grace period ends. Passwords exist in clear only in memory
on their way to the station: never in the database, the command's detail, the audit log or logs.
"""

import asyncio
import logging
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import col, select, update

from app.db.engine import SessionFactory
from app.db.models import ChargingStation, Location, RemoteCommand
from app.domain.commands import CommandStatus, SetStationPassword
from app.domain.errors import Conflict, NotFound, StationNotConnected
from app.events import EventBus
from app.services import audit
from app.services.alerts import OperatorScope
from app.services.commands import (
    LIVE,
    CommandKind,
    RemoteCommandStatus,
    command_event,
    command_topic,
)
from app.services.ports import StationCommander
from app.services.security import hash_password

log = logging.getLogger(__name__)

ROTATE_PASSWORD = CommandKind.ROTATE_PASSWORD
PASSWORD_BYTES = 20  # 40 hex characters: inside OCPP's 16-40, printable, 160 bits


class StationOffline(Conflict):
    def __init__(self, station_id: str) -> None:
        super().__init__(f"station {station_id!r} is not connected: a rotation needs it online")


class PasswordRole(StrEnum):
    CURRENT = "CURRENT"
    NEXT = "NEXT"
    PREVIOUS = "PREVIOUS"


@dataclass(frozen=True, slots=True)
class StationSecrets:
    """The password hashes a station may authenticate with now, current first."""

    station_id: str
    hashes: tuple[tuple[PasswordRole, str], ...]

    @property
    def has_password(self) -> bool:
        return bool(self.hashes)


def generate_password() -> str:
    return secrets.token_hex(PASSWORD_BYTES)


def _valid(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is not None and expires_at > now


# Every handshake reads these: five columns by Core, not the whole station as an ORM object.
_SECRETS = sa.select(
    col(ChargingStation.password_hash),
    col(ChargingStation.next_password_hash),
    col(ChargingStation.next_password_expires_at),
    col(ChargingStation.previous_password_hash),
    col(ChargingStation.previous_password_expires_at),
).where(col(ChargingStation.id) == sa.bindparam("station_id"))


async def get_secrets(
    *, session_factory: SessionFactory, station_id: str, now: datetime
) -> StationSecrets | None:
    """None when the station is unknown; no hashes when it has no password."""
    async with session_factory() as db:
        conn = await db.connection()
        row = (await conn.execute(_SECRETS, {"station_id": station_id})).first()
    if row is None:
        return None
    current, next_hash, next_expires_at, previous, previous_expires_at = row
    hashes: list[tuple[PasswordRole, str]] = []
    if current:
        hashes.append((PasswordRole.CURRENT, current))
    if next_hash and _valid(next_expires_at, now):
        hashes.append((PasswordRole.NEXT, next_hash))
    if previous and _valid(previous_expires_at, now):
        hashes.append((PasswordRole.PREVIOUS, previous))
    return StationSecrets(station_id, tuple(hashes))


async def note_authenticated(
    *, session_factory: SessionFactory, station_id: str, role: PasswordRole, password_hash: str
) -> None:
    """A station proved it holds `password_hash`: retire what it no longer needs.

    With the next password it has the new one (its Accepted was lost): promote it and drop the
    old. With the current one while a previous exists: the rotation is complete. The current
    one while a next is pending proves nothing: the station may not have applied it yet.
    """
    if role == PasswordRole.PREVIOUS:
        return
    async with session_factory() as db:
        station = await db.get(ChargingStation, station_id)
        if station is None:
            return
        if role == PasswordRole.NEXT and station.next_password_hash == password_hash:
            station.password_hash = password_hash
            station.next_password_hash = station.next_password_expires_at = None
        elif not (
            role == PasswordRole.CURRENT
            and station.password_hash == password_hash
            and station.previous_password_hash is not None
        ):
            return  # the current password while no rotation is complete: nothing to retire
        station.previous_password_hash = station.previous_password_expires_at = None
        await db.commit()
    log.info("station %s authenticated with its new password: rotation complete", station_id)


async def request_rotation(
    *,
    session_factory: SessionFactory,
    scope: OperatorScope,
    station_id: str,
    actor: str,
    connected: Callable[[str], bool] | None = None,
    now: datetime | None = None,
) -> RemoteCommand:
    """A PENDING ROTATE_PASSWORD command (audited); `run_rotation` carries it out.

    NotFound for a station outside the caller's network (as for a missing one); StationOffline
    when `connected` says it is not; Conflict while another rotation of it is under way.
    """
    at = now or datetime.now(UTC)
    async with session_factory() as db:
        station = await db.get(ChargingStation, station_id)
        operator_id: int | None = None
        if station is not None and station.location_id is not None:
            location = await db.get(Location, station.location_id)
            operator_id = location.operator_id if location is not None else None
        if station is None or (scope.operator_id is not None and operator_id != scope.operator_id):
            raise NotFound("ChargingStation", station_id)
        if connected is not None and not connected(station_id):
            raise StationOffline(station_id)
        running = await db.exec(
            select(RemoteCommand.id).where(
                RemoteCommand.station_id == station_id,
                RemoteCommand.kind == ROTATE_PASSWORD,
                col(RemoteCommand.status).in_([s.value for s in LIVE]),
            )
        )
        if running.first() is not None:
            raise Conflict(f"a password rotation of station {station_id!r} is already under way")
        command = RemoteCommand(
            id=str(uuid.uuid4()),
            kind=ROTATE_PASSWORD,
            status=RemoteCommandStatus.PENDING,
            station_id=station_id,
            detail={"requested_by": actor},
            created_at=at,
        )
        db.add(command)
        await audit.record(
            db=db,
            actor=actor,
            operator_id=operator_id,
            action="station.rotate_password",
            target=f"station:{station_id}",
            detail={"command_id": command.id},
            at=at,
        )
        await db.commit()
        await db.refresh(command)
        return command


async def _finish(
    session_factory: SessionFactory,
    bus: EventBus,
    command_id: str,
    status: RemoteCommandStatus,
    detail: dict[str, object],
) -> None:
    async with session_factory() as db:
        current = await db.get(RemoteCommand, command_id)
        assert current is not None
        await db.exec(
            update(RemoteCommand)
            .where(col(RemoteCommand.id) == command_id)
            .where(col(RemoteCommand.status).in_([s.value for s in LIVE]))
            .values(
                status=status,
                completed_at=datetime.now(UTC),
                detail={**(current.detail or {}), **detail},
            )
        )
        await db.commit()
        await db.refresh(current)
    await bus.publish(command_topic(command_id), command_event(current))


async def run_rotation(
    *,
    session_factory: SessionFactory,
    bus: EventBus,
    commander: StationCommander,
    command_id: str,
    grace_s: float,
    timeout_s: float | None = None,
) -> RemoteCommandStatus:
    """Send a new password to the command's station and store it by the answer."""
    async with session_factory() as db:
        command = await db.get(RemoteCommand, command_id)
        assert command is not None
        station_id = command.station_id
    password = generate_password()
    new_hash = await asyncio.to_thread(hash_password, password)
    grace = timedelta(seconds=grace_s)
    async with session_factory() as db:
        station = await db.get(ChargingStation, station_id)
        assert station is not None
        station.next_password_hash = new_hash
        station.next_password_expires_at = datetime.now(UTC) + grace
        await db.commit()
    try:
        outcome = await commander.send(
            station_id, SetStationPassword(password=password), timeout_s=timeout_s
        )
    except StationNotConnected:
        await _store(session_factory, station_id, new_hash, accepted=False, grace=grace)
        await _finish(
            session_factory, bus, command_id, RemoteCommandStatus.FAILED, {"reason": "offline"}
        )
        return RemoteCommandStatus.FAILED
    del password
    if outcome.status == CommandStatus.ACCEPTED:
        await _store(session_factory, station_id, new_hash, accepted=True, grace=grace)
        status = RemoteCommandStatus.ACCEPTED
    elif outcome.status == CommandStatus.TIMEOUT:
        # It may have applied the password: the next one stays valid for the grace period.
        status = RemoteCommandStatus.TIMEOUT
    else:
        await _store(session_factory, station_id, new_hash, accepted=False, grace=grace)
        status = {
            CommandStatus.FAILED: RemoteCommandStatus.FAILED,
            CommandStatus.NOT_SUPPORTED: RemoteCommandStatus.NOT_SUPPORTED,
        }.get(outcome.status, RemoteCommandStatus.REJECTED)
    await _finish(session_factory, bus, command_id, status, {"answer": outcome.detail})
    log.info("station %s password rotation %s: %s", station_id, command_id, status.value)
    return status


async def _store(
    session_factory: SessionFactory,
    station_id: str,
    new_hash: str,
    *,
    accepted: bool,
    grace: timedelta,
) -> None:
    """Accepted: the new hash is current, the old one previous for `grace`. Refused: the new
    hash is forgotten. Either way only if the station's next hash is still this one."""
    async with session_factory() as db:
        station = await db.get(ChargingStation, station_id)
        if station is None or station.next_password_hash != new_hash:
            return  # already promoted by a reconnect with it, or replaced
        if accepted:
            station.previous_password_hash = station.password_hash
            station.previous_password_expires_at = (
                datetime.now(UTC) + grace if station.password_hash else None
            )
            station.password_hash = new_hash
        station.next_password_hash = station.next_password_expires_at = None
        await db.commit()
