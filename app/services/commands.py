"""Remote start and stop on a driver's behalf: record the command at once, answer its id.

`request_start` / `request_stop` are the synchronous half (one DB transaction: checks, then a
PENDING `RemoteCommand`); `app.services.command_outcomes` sends the command in the background
and tracks its outcome. Both are idempotent on (driver, clientMutationId): a retried request
returns the first command (`created=False`) and must not be sent again.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.engine import SessionFactory
from app.db.models import (
    ChargingSession,
    ChargingStation,
    Connector,
    Evse,
    IdToken,
    RemoteCommand,
    Reservation,
)
from app.domain.enums import AuthorizationStatus, EvseStatus, IdTokenType, SessionStatus
from app.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from app.domain.reservations import UnavailableReason

MAX_CLIENT_MUTATION_ID = 64
MAX_REQUESTED_ENERGY_WH = 1_000_000  # 1 MWh: more than any vehicle battery
_INSERT_ATTEMPTS = 5  # remote_start_id is max + 1: concurrent starts may collide and retry


class CommandKind(StrEnum):
    START = "START"
    STOP = "STOP"
    # remote operations (operator API, app.services.remote_operations)
    RESET = "RESET"
    UNLOCK_CONNECTOR = "UNLOCK_CONNECTOR"
    CHANGE_AVAILABILITY = "CHANGE_AVAILABILITY"
    TRIGGER_MESSAGE = "TRIGGER_MESSAGE"
    GET_CONFIGURATION = "GET_CONFIGURATION"
    CHANGE_CONFIGURATION = "CHANGE_CONFIGURATION"
    CLEAR_CACHE = "CLEAR_CACHE"
    UPDATE_FIRMWARE = "UPDATE_FIRMWARE"
    UPLOAD_DIAGNOSTICS = "UPLOAD_DIAGNOSTICS"
    # a new station password (operator API, app.services.station_credentials)
    ROTATE_PASSWORD = "ROTATE_PASSWORD"  # noqa: S105  (a command kind, not a secret)


class RemoteCommandStatus(StrEnum):
    """PENDING: sent, no answer yet. ACCEPTED_PENDING: the charger accepted; waiting for it
    to open (start) or end (stop) the transaction, or for a long-running operation (reset,
    firmware, diagnostics) to reach its end state. The rest are final."""

    PENDING = "PENDING"
    ACCEPTED_PENDING = "ACCEPTED_PENDING"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    EVSE_OCCUPIED = "EVSE_OCCUPIED"
    EVSE_INOPERATIVE = "EVSE_INOPERATIVE"
    TIMEOUT = "TIMEOUT"
    FAILED = "FAILED"
    NOT_SUPPORTED = "NOT_SUPPORTED"


LIVE = frozenset({RemoteCommandStatus.PENDING, RemoteCommandStatus.ACCEPTED_PENDING})


class EvseUnavailable(Conflict):
    def __init__(self, evse_id: int, reason: UnavailableReason) -> None:
        super().__init__(f"EVSE {evse_id} cannot start a session now: {reason.value}")
        self.reason = reason


class EvseReserved(Conflict):
    def __init__(self, evse_id: int, until: datetime) -> None:
        super().__init__(f"EVSE {evse_id} is reserved by another driver until {until.isoformat()}")
        self.until = until


class SessionNotActive(Conflict):
    def __init__(self, session_id: int, status: str) -> None:
        super().__init__(f"session {session_id} is {status}: only an ACTIVE session can stop")


@dataclass(frozen=True, slots=True)
class CommandRequested:
    """The command to answer with; `created` is False for a retried clientMutationId."""

    command: RemoteCommand
    created: bool


def command_topic(command_id: str) -> str:
    """Status changes of one remote command."""
    return f"command.{command_id}"


def command_event(command: RemoteCommand) -> dict[str, Any]:
    return {
        "type": "CommandUpdated",
        "command_id": command.id,
        "status": command.status,
        "session_id": command.session_id,
    }


def _check_client_mutation_id(value: str | None) -> None:
    if value is not None and not 1 <= len(value) <= MAX_CLIENT_MUTATION_ID:
        raise InvalidInput(
            f"clientMutationId has {len(value)} characters: expected 1 to {MAX_CLIENT_MUTATION_ID}"
        )


async def _existing(
    db: AsyncSession, driver_id: int, client_mutation_id: str | None
) -> RemoteCommand | None:
    if client_mutation_id is None:
        return None
    statement = select(RemoteCommand).where(
        RemoteCommand.driver_id == driver_id,
        RemoteCommand.client_mutation_id == client_mutation_id,
    )
    return (await db.exec(statement)).first()


async def _app_token(db: AsyncSession, driver_id: int) -> str:
    statement = (
        select(IdToken)
        .where(IdToken.driver_id == driver_id, IdToken.type == IdTokenType.APP)
        .where(IdToken.status == AuthorizationStatus.ACCEPTED)
        .order_by(col(IdToken.id))
    )
    token = (await db.exec(statement)).first()
    if token is None:
        raise InvalidInput(f"driver {driver_id} has no usable app token: expected one from signUp")
    return token.uid


async def _check_evse(
    db: AsyncSession, evse: Evse, driver_id: int, connector_id: int | None, now: datetime
) -> None:
    """Refuse what cannot start: offline, out of service, occupied or reserved by another."""
    assert evse.id is not None
    station = await db.get(ChargingStation, evse.station_id)
    if station is None or not station.online:
        raise EvseUnavailable(evse.id, UnavailableReason.OFFLINE)
    if evse.status in (EvseStatus.INOPERATIVE, EvseStatus.OUTOFORDER):
        raise EvseUnavailable(evse.id, UnavailableReason.OUT_OF_ORDER)
    if connector_id is not None:
        connectors = await db.exec(
            select(Connector.ocpp_connector_id).where(Connector.evse_id == evse.id)
        )
        if connector_id not in set(connectors.all()):
            raise InvalidInput(f"connectorId {connector_id} is not a connector of EVSE {evse.id}")
    # An EVSE in 1.6 "Preparing" (a plugged-in car waiting for the app) shows CHARGING, so
    # occupancy is an open session or another start in flight, not the status.
    active = await db.exec(
        select(ChargingSession.id).where(
            ChargingSession.evse_id == evse.id, ChargingSession.status == SessionStatus.ACTIVE
        )
    )
    starting = await db.exec(
        select(RemoteCommand.id).where(
            RemoteCommand.evse_id == evse.id,
            RemoteCommand.kind == CommandKind.START,
            col(RemoteCommand.status).in_(list(LIVE)),
        )
    )
    if active.first() is not None or starting.first() is not None:
        raise EvseUnavailable(evse.id, UnavailableReason.OCCUPIED)
    reservation = (
        await db.exec(
            select(Reservation).where(
                Reservation.evse_id == evse.id,
                Reservation.status == "ACTIVE",
                Reservation.expires_at > now,
                Reservation.driver_id != driver_id,
            )
        )
    ).first()
    if reservation is not None:
        raise EvseReserved(evse.id, reservation.expires_at)


async def check_evse_free(db: AsyncSession, evse: Evse, now: datetime) -> None:
    """Refuse a guest (ad hoc) start as `_check_evse` does; any reservation is another's."""
    await _check_evse(db, evse, 0, None, now)  # no driver has id 0


async def _insert(
    session_factory: SessionFactory, driver_id: int, client_mutation_id: str | None, build: Any
) -> CommandRequested:
    """Insert the command `build(db)` returns; on a unique violation, find the first one."""
    for _ in range(_INSERT_ATTEMPTS):
        async with session_factory() as db:
            if (found := await _existing(db, driver_id, client_mutation_id)) is not None:
                return CommandRequested(found, created=False)
            try:
                command: RemoteCommand = await build(db)
            except DomainError:
                # A concurrent retry may have committed its command after our first look (and
                # made the EVSE look occupied): that command is the answer, not the refusal.
                async with session_factory() as fresh:
                    found = await _existing(fresh, driver_id, client_mutation_id)
                if found is not None:
                    return CommandRequested(found, created=False)
                raise
            db.add(command)
            try:
                await db.commit()
            except IntegrityError:
                # A concurrent retry of the same clientMutationId won the race (the loop then
                # returns its command), or another start took this remote_start_id (retry).
                await db.rollback()
                continue
            return CommandRequested(command, created=True)
    raise Conflict("could not record the command: too many concurrent requests, try again")


async def request_start(
    *,
    session_factory: SessionFactory,
    driver_id: int,
    evse_id: int,
    client_mutation_id: str,
    connector_id: int | None = None,
    departure_at: datetime | None = None,
    requested_energy_wh: int | None = None,
    now: datetime | None = None,
) -> CommandRequested:
    """A PENDING START command for the driver's app token on this EVSE.

    Raises NotFound (no such EVSE), EvseUnavailable, EvseReserved or InvalidInput. The
    charger is not contacted here: `command_outcomes.run_start` sends it.
    """
    _check_client_mutation_id(client_mutation_id)
    if requested_energy_wh is not None and not 0 < requested_energy_wh <= MAX_REQUESTED_ENERGY_WH:
        raise InvalidInput(
            f"energy {requested_energy_wh} Wh: expected more than 0, at most 1000 kWh"
        )
    if departure_at is not None and departure_at.tzinfo is None:
        raise InvalidInput("departureTime has no time zone: expected an offset, e.g. Z")
    at = now or datetime.now(UTC)

    async def build(db: AsyncSession) -> RemoteCommand:
        evse = await db.get(Evse, evse_id)
        if evse is None:
            raise NotFound("Evse", evse_id)
        await _check_evse(db, evse, driver_id, connector_id, at)
        token = await _app_token(db, driver_id)
        last = (await db.exec(select(func.max(RemoteCommand.remote_start_id)))).one()
        return RemoteCommand(
            id=str(uuid.uuid4()),
            kind=CommandKind.START,
            status=RemoteCommandStatus.PENDING,
            driver_id=driver_id,
            client_mutation_id=client_mutation_id,
            station_id=evse.station_id,
            evse_id=evse.id,
            remote_start_id=(last or 0) + 1,
            detail={
                "id_token": token,
                "ocpp_evse_id": evse.ocpp_evse_id,
                "connector_id": connector_id,
                "departure_at": departure_at.astimezone(UTC).isoformat() if departure_at else None,
                "requested_energy_wh": requested_energy_wh,
            },
            created_at=at,
        )

    return await _insert(session_factory, driver_id, client_mutation_id, build)


async def request_stop(
    *,
    session_factory: SessionFactory,
    driver_id: int,
    session_id: int,
    client_mutation_id: str | None = None,
) -> CommandRequested:
    """A PENDING STOP command for the driver's own ACTIVE session.

    Another driver's session is NotFound, exactly like a missing one (no existence leak).
    """
    _check_client_mutation_id(client_mutation_id)

    async def build(db: AsyncSession) -> RemoteCommand:
        session = await db.get(ChargingSession, session_id)
        if session is None or session.driver_id != driver_id:
            raise NotFound("ChargingSession", session_id)
        if session.status != SessionStatus.ACTIVE:
            raise SessionNotActive(session_id, session.status.value)
        return RemoteCommand(
            id=str(uuid.uuid4()),
            kind=CommandKind.STOP,
            status=RemoteCommandStatus.PENDING,
            driver_id=driver_id,
            client_mutation_id=client_mutation_id,
            station_id=session.station_id,
            evse_id=session.evse_id,
            session_id=session.id,
            detail={"transaction_id": session.transaction_id},
        )

    return await _insert(session_factory, driver_id, client_mutation_id, build)


async def get_own_command(
    *, session_factory: SessionFactory, driver_id: int, command_id: str
) -> RemoteCommand:
    """The driver's command; NotFound for another driver's (no existence leak)."""
    async with session_factory() as db:
        command = await db.get(RemoteCommand, command_id[:36])
    if command is None or command.driver_id != driver_id:
        raise NotFound("RemoteCommand", command_id)
    return command
