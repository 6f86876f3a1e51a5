"""Health history written inside the caller's unit of work: EVSE status intervals (and the
alerts a status raises or clears), station connectivity intervals and boots."""

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.models import Evse, EvseStatusInterval, StationBoot, StationConnectivityInterval
from app.db.types import UtcDateTime
from app.domain.alerts import BLOCKING_ERROR_CODES, AlertCode, AlertSeverity, AlertSource
from app.domain.enums import EvseStatus
from app.services.alerts import Event, clear_alerts, raise_alert

FAULT_STATUSES = frozenset({EvseStatus.OUTOFORDER})


async def track_status(
    db: AsyncSession, *, station_id: str, evse: Evse, status: EvseStatus,
    error_code: str | None, at: datetime, vendor_error_code: str | None = None,
    vendor_info: str | None = None,
) -> list[Event]:  # fmt: skip
    """Close the EVSE's current status interval and open the new one; raise an alert for a
    fault or an error code, resolve the status alerts when the EVSE reports healthy again.

    Returns the alert events to publish after the caller commits.
    """
    assert evse.id is not None
    # One UPDATE, no read (the status path is the busiest writer). A late report (older than
    # the open interval) still closes it, never before its start.
    started_at = col(EvseStatusInterval.started_at)
    await db.exec(
        sa.update(EvseStatusInterval)
        .where(
            col(EvseStatusInterval.evse_id) == evse.id, col(EvseStatusInterval.ended_at).is_(None)
        )
        .values(
            ended_at=sa.case((started_at > at, started_at), else_=sa.literal(at, UtcDateTime()))
        )
        .execution_options(synchronize_session=False)
    )
    db.add(
        EvseStatusInterval(
            evse_id=evse.id, station_id=station_id, status=status, error_code=error_code,
            started_at=at,
        )
    )  # fmt: skip
    if status in FAULT_STATUSES or error_code is not None:
        code = error_code or AlertCode.FAULTED
        blocking = status in FAULT_STATUSES or code in BLOCKING_ERROR_CODES
        # A different fault replaces the previous one; the same one just counts again.
        events = await clear_alerts(
            db, station_id=station_id, evse_id=evse.id, source=AlertSource.STATUS, at=at,
            except_codes=(code,),
        )  # fmt: skip
        raised = await raise_alert(
            db,
            station_id=station_id,
            evse_id=evse.id,
            code=code,
            severity=AlertSeverity.MAJOR if blocking else AlertSeverity.WARNING,
            source=AlertSource.STATUS,
            at=at,
            info=f"EVSE {evse.uid} reported {status.value}"
            + (f": {vendor_info}" if vendor_info else ""),
            vendor_error_code=vendor_error_code,
        )
        return [*events, *([raised] if raised else [])]
    return await clear_alerts(
        db, station_id=station_id, evse_id=evse.id, source=AlertSource.STATUS, at=at
    )


async def track_connectivity(
    db: AsyncSession, *, station_id: str, online: bool, reason: str, at: datetime
) -> bool:
    """Record that the station went online or offline; a no-op when it already was so.

    True when the state changed (a new interval began).
    """
    current = (
        await db.exec(
            select(StationConnectivityInterval).where(
                StationConnectivityInterval.station_id == station_id,
                col(StationConnectivityInterval.ended_at).is_(None),
            )
        )
    ).all()
    if any(interval.online == online for interval in current):
        return False
    for interval in current:
        interval.ended_at = max(at, interval.started_at)
    db.add(
        StationConnectivityInterval(
            station_id=station_id, online=online, reason=reason[:32], started_at=at
        )
    )
    return True


async def track_boot(db: AsyncSession, *, station_id: str, at: datetime) -> None:
    db.add(StationBoot(station_id=station_id, booted_at=at))
