"""Health history written inside the caller's unit of work: EVSE status intervals (and the
alerts a status raises or clears), station connectivity intervals and boots."""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.models import EvseStatusInterval, StationBoot, StationConnectivityInterval
from app.db.types import UtcDateTime
from app.domain.alerts import BLOCKING_ERROR_CODES, AlertCode, AlertSeverity, AlertSource
from app.domain.enums import EvseStatus
from app.services.alerts import Event, clear_alerts, raise_alert

FAULT_STATUSES = frozenset({EvseStatus.OUTOFORDER})


_INTERVAL: Any = EvseStatusInterval.__table__  # type: ignore[attr-defined]
# Built once (every status change runs them). A late report (older than the open interval)
# still closes it, never before its start.
_CLOSE_INTERVAL = (
    sa.update(_INTERVAL)
    .where(_INTERVAL.c.evse_id == sa.bindparam("interval_evse_id"), _INTERVAL.c.ended_at.is_(None))
    .values(
        ended_at=sa.case(
            (
                _INTERVAL.c.started_at > sa.bindparam("at", type_=UtcDateTime()),
                _INTERVAL.c.started_at,
            ),
            else_=sa.bindparam("at", type_=UtcDateTime()),
        )
    )
)
_OPEN_INTERVAL = sa.insert(_INTERVAL)


async def track_status(
    db: AsyncSession, *, station_id: str, evse_id: int, evse_uid: str, status: EvseStatus,
    error_code: str | None, at: datetime, vendor_error_code: str | None = None,
    vendor_info: str | None = None, open_alerts: bool = True,
) -> list[Event]:  # fmt: skip
    """Close the EVSE's current status interval and open the new one; raise an alert for a
    fault or an error code, resolve the status alerts when the EVSE reports healthy again.

    `open_alerts=False`: the caller has read that the EVSE has no open status alert, so none
    is looked for to resolve. Returns the alert events to publish after the caller commits.
    """
    # Two Core statements, no read and no ORM object (the status path is the busiest writer).
    connection = await db.connection()
    await connection.execute(_CLOSE_INTERVAL, {"interval_evse_id": evse_id, "at": at})
    await connection.execute(
        _OPEN_INTERVAL,
        {
            "evse_id": evse_id, "station_id": station_id, "status": status,
            "error_code": error_code, "started_at": at, "ended_at": None,
        },
    )  # fmt: skip
    if status in FAULT_STATUSES or error_code is not None:
        code = error_code or AlertCode.FAULTED
        blocking = status in FAULT_STATUSES or code in BLOCKING_ERROR_CODES
        # A different fault replaces the previous one; the same one just counts again.
        events = (
            await clear_alerts(
                db, station_id=station_id, evse_id=evse_id, source=AlertSource.STATUS, at=at,
                except_codes=(code,),
            )
            if open_alerts
            else []
        )  # fmt: skip
        raised = await raise_alert(
            db,
            station_id=station_id,
            evse_id=evse_id,
            code=code,
            severity=AlertSeverity.MAJOR if blocking else AlertSeverity.WARNING,
            source=AlertSource.STATUS,
            at=at,
            info=f"EVSE {evse_uid} reported {status.value}"
            + (f": {vendor_info}" if vendor_info else ""),
            vendor_error_code=vendor_error_code,
        )
        return [*events, *([raised] if raised else [])]
    if not open_alerts:
        return []
    return await clear_alerts(
        db, station_id=station_id, evse_id=evse_id, source=AlertSource.STATUS, at=at
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
