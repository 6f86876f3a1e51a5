"""Firmware updates and diagnostics uploads followed through the station's status notifications.

1.6 FirmwareStatusNotification / DiagnosticsStatusNotification carry no request id: they go to
the station's newest unfinished job. 2.0.1 FirmwareStatusNotification / LogStatusNotification
carry the requestId the job's id was sent as. Each notification updates the job and the
progress of its command; an end state finishes both (see `remote_operations`).
"""

import logging
from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.engine import SessionFactory
from app.db.models import ChargingStation, DiagnosticsUpload, FirmwareUpdate, RemoteCommand
from app.events import EventBus
from app.services.commands import RemoteCommandStatus, command_event, command_topic
from app.services.remote_operations import audit_outcome, set_progress

log = logging.getLogger(__name__)

FIRMWARE_DONE = frozenset({"Installed"})
FIRMWARE_FAILED = frozenset(
    {
        "DownloadFailed",
        "InstallationFailed",
        "InstallVerificationFailed",
        "InvalidSignature",
    }
)
UPLOAD_DONE = frozenset({"Uploaded"})
UPLOAD_FAILED = frozenset(
    {"UploadFailed", "UploadFailure", "BadMessage", "NotSupportedOperation", "PermissionDenied"}
)
# Idle means "nothing in progress": it ends no job (a station may send it at any time).
IGNORED = frozenset({"Idle"})

Job = FirmwareUpdate | DiagnosticsUpload


async def _job(
    db: AsyncSession, model: type[Job], station_id: str, request_id: int | None
) -> Job | None:
    statement: Any = select(model).where(model.station_id == station_id)
    if request_id is not None:
        statement = statement.where(model.id == request_id)
    else:
        statement = statement.where(col(model.finished_at).is_(None))
    return (await db.exec(statement.order_by(col(model.id).desc()))).first()  # type: ignore[no-any-return]


async def _record(
    *,
    session_factory: SessionFactory,
    bus: EventBus,
    model: type[Job],
    station_id: str,
    status: str,
    request_id: int | None,
    at: datetime,
    done: frozenset[str],
    failed: frozenset[str],
) -> Job | None:
    if status in IGNORED:
        return None
    publish: RemoteCommand | None = None
    async with session_factory() as db:
        job = await _job(db, model, station_id, request_id)
        if job is None:
            log.info(
                "station %s reported %s %s for no known job", station_id, model.__name__, status
            )
            return None
        job.status = status[:40]
        job.updated_at = at
        final: RemoteCommandStatus | None = None
        if status in done or status in failed:
            job.finished_at = at
            final = RemoteCommandStatus.ACCEPTED if status in done else RemoteCommandStatus.FAILED
        if isinstance(job, FirmwareUpdate) and status in done:
            station = await db.get(ChargingStation, station_id)
            # The station booted the new image before reporting Installed (BootNotification
            # stored its version): that is the version now running.
            job.installed_version = station.firmware_version if station is not None else None
        if job.command_id is not None:
            changed = await set_progress(
                db, command_id=job.command_id, progress=status, status=final,
                detail={"reason": f"the station reported {status}"} if status in failed else None,
            )  # fmt: skip
            if changed:
                publish = await db.get(RemoteCommand, job.command_id)
                if publish is not None:
                    await db.refresh(publish)
                    if final is not None:
                        await audit_outcome(db, publish)
        db.add(job)
        await db.commit()
        await db.refresh(job)
    if publish is not None:
        await bus.publish(command_topic(publish.id), command_event(publish))
    return job


async def record_firmware_status(
    *,
    session_factory: SessionFactory,
    bus: EventBus,
    station_id: str,
    status: str,
    request_id: int | None,
    at: datetime,
) -> FirmwareUpdate | None:
    """Apply a FirmwareStatusNotification to its job; the job as it now is (None: no job)."""
    job = await _record(
        session_factory=session_factory, bus=bus, model=FirmwareUpdate, station_id=station_id,
        status=status, request_id=request_id, at=at, done=FIRMWARE_DONE, failed=FIRMWARE_FAILED,
    )  # fmt: skip
    return job if isinstance(job, FirmwareUpdate) else None


async def record_upload_status(
    *,
    session_factory: SessionFactory,
    bus: EventBus,
    station_id: str,
    status: str,
    request_id: int | None,
    at: datetime,
) -> DiagnosticsUpload | None:
    """Apply a 1.6 DiagnosticsStatusNotification or 2.0.1 LogStatusNotification to its job."""
    job = await _record(
        session_factory=session_factory, bus=bus, model=DiagnosticsUpload, station_id=station_id,
        status=status, request_id=request_id, at=at, done=UPLOAD_DONE, failed=UPLOAD_FAILED,
    )  # fmt: skip
    return job if isinstance(job, DiagnosticsUpload) else None


async def list_firmware_updates(
    *, session_factory: SessionFactory, station_id: str, first: int
) -> list[FirmwareUpdate]:
    """The station's newest firmware jobs first (the caller has checked its scope)."""
    async with session_factory() as db:
        rows = await db.exec(
            select(FirmwareUpdate)
            .where(FirmwareUpdate.station_id == station_id)
            .order_by(col(FirmwareUpdate.id).desc())
            .limit(first)
        )
        return list(rows.all())


async def list_diagnostics_uploads(
    *, session_factory: SessionFactory, station_id: str, first: int
) -> list[DiagnosticsUpload]:
    async with session_factory() as db:
        rows = await db.exec(
            select(DiagnosticsUpload)
            .where(DiagnosticsUpload.station_id == station_id)
            .order_by(col(DiagnosticsUpload.id).desc())
            .limit(first)
        )
        return list(rows.all())
