"""Station lifecycle as seen over OCPP: credentials, connect/disconnect, boot, heartbeat."""

import logging
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.engine import SessionFactory
from app.db.models import ChargingStation, Connector, Evse
from app.domain.enums import OcppVersion, RegistrationStatus
from app.domain.errors import NotFound
from app.events import EventBus, topics
from app.services import health_history
from app.services.group_commit import GroupCommit, run_unit

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StationCredentials:
    station_id: str
    password_hash: str | None
    registration_status: RegistrationStatus


@dataclass(frozen=True, slots=True)
class BootInfo:
    """What a station says about itself in BootNotification (both OCPP versions)."""

    vendor: str
    model: str
    serial_number: str | None = None
    firmware_version: str | None = None


async def get_credentials(
    *, session_factory: SessionFactory, station_id: str
) -> StationCredentials | None:
    """The stored credentials of a station, or None when the id is unknown."""
    async with session_factory() as db:
        station = await db.get(ChargingStation, station_id)
        if station is None:
            return None
        return StationCredentials(station.id, station.password_hash, station.registration_status)


async def register_pending_station(
    *, session_factory: SessionFactory, station_id: str, bus: EventBus | None = None
) -> bool:
    """Create an unknown station as PENDING (an operator accepts it later). Idempotent: True
    only for the call that created it, which (given a `bus`) announces it on
    `topics.ALL_STATIONS` after the commit."""
    async with session_factory() as db:
        if await db.get(ChargingStation, station_id) is not None:
            return False
        db.add(ChargingStation(id=station_id, registration_status=RegistrationStatus.PENDING))
        try:
            await db.commit()
        except IntegrityError:  # a concurrent connection created it first
            await db.rollback()
            return False
    if bus is not None:
        await bus.publish(
            topics.ALL_STATIONS, topics.station_added_event(station_id=station_id, location_id=None)
        )
    return True


async def _station(db: AsyncSession, station_id: str) -> ChargingStation:
    station = await db.get(ChargingStation, station_id)
    if station is None:
        raise NotFound("ChargingStation", station_id)
    return station


async def record_connected(
    *,
    session_factory: SessionFactory,
    bus: EventBus,
    station_id: str,
    ocpp_version: OcppVersion,
    at: datetime,
) -> None:
    async with session_factory() as db:
        station = await _station(db, station_id)
        station.online = True
        station.connected_at = at
        station.ocpp_version = ocpp_version
        await health_history.track_connectivity(
            db, station_id=station_id, online=True, reason="CONNECTED", at=at
        )
        await db.commit()
    await bus.publish(
        topics.station_status(station_id),
        {
            "type": "StationConnected",
            "station_id": station_id,
            "ocpp_version": ocpp_version.value,
            "at": at.isoformat(),
        },
    )


async def record_disconnected(
    *, session_factory: SessionFactory, bus: EventBus, station_id: str, at: datetime
) -> None:
    async with session_factory() as db:
        station = await _station(db, station_id)
        station.online = False
        station.disconnected_at = at
        await health_history.track_connectivity(
            db, station_id=station_id, online=False, reason="DISCONNECTED", at=at
        )
        await db.commit()
    await bus.publish(
        topics.station_status(station_id),
        {"type": "StationDisconnected", "station_id": station_id, "at": at.isoformat()},
    )


async def record_boot(
    *,
    session_factory: SessionFactory,
    bus: EventBus,
    station_id: str,
    boot: BootInfo,
    at: datetime,
) -> RegistrationStatus:
    """Store the boot information; the answer is the station's registration status."""
    async with session_factory() as db:
        station = await _station(db, station_id)
        station.vendor = boot.vendor[:50]
        station.model = boot.model[:50]
        station.serial_number = boot.serial_number[:50] if boot.serial_number else None
        station.firmware_version = boot.firmware_version[:50] if boot.firmware_version else None
        station.last_boot_at = at
        station.last_heartbeat_at = at
        station.online = True
        status = station.registration_status
        await health_history.track_boot(db, station_id=station_id, at=at)
        await health_history.track_connectivity(
            db, station_id=station_id, online=True, reason="BOOT", at=at
        )
        await db.commit()
    await bus.publish(
        topics.station_status(station_id),
        {
            "type": "StationBooted",
            "station_id": station_id,
            "registration_status": status.value,
            "at": at.isoformat(),
        },
    )
    return status


async def record_heartbeat(
    *,
    session_factory: SessionFactory,
    station_id: str,
    at: datetime,
    group: GroupCommit | None = None,
) -> None:
    """With `group`, the write shares a transaction with other stations' messages."""

    async def work(db: AsyncSession) -> None:
        # The common case in one statement: an online station's heartbeat moves a timestamp.
        seen = await db.exec(
            sa.update(ChargingStation)
            .where(col(ChargingStation.id) == station_id, col(ChargingStation.online).is_(True))
            .values(last_heartbeat_at=at)
            .execution_options(synchronize_session=False)
        )
        if seen.rowcount == 1:
            return
        station = await _station(db, station_id)
        station.last_heartbeat_at = at
        if not station.online:  # back after the health monitor found it silent
            await health_history.track_connectivity(
                db, station_id=station_id, online=True, reason="HEARTBEAT", at=at
            )
        station.online = True

    await run_unit(session_factory, group, station_id, work)


async def get_or_create_evse(db: AsyncSession, *, station_id: str, ocpp_evse_id: int) -> Evse:
    """The station's EVSE with this number; created (with one connector) when first reported.

    Runs inside the caller's unit of work.
    """
    evse = (
        await db.exec(
            select(Evse).where(Evse.station_id == station_id, Evse.ocpp_evse_id == ocpp_evse_id)
        )
    ).first()
    if evse is not None:
        return evse
    evse = Evse(
        station_id=station_id, ocpp_evse_id=ocpp_evse_id, uid=f"{station_id}*{ocpp_evse_id}"
    )
    db.add(evse)
    await db.flush()
    assert evse.id is not None
    db.add(Connector(evse_id=evse.id, ocpp_connector_id=1))
    await db.flush()
    log.info("station %s reported EVSE %d: created it", station_id, ocpp_evse_id)
    return evse
