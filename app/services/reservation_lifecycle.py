"""How reservations end without the driver: used by a session start, or expired by the backend.

The expiry sweep marks holding reservations past `expires_at` EXPIRED and tells connected
stations to release the EVSE (CancelReservation); it does not rely on the stations' own timers.
"""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import func, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.engine import SessionFactory
from app.db.models import Evse, Reservation
from app.domain.reservations import HOLDING, ReservationStatus
from app.services.periodic import PeriodicTask
from app.services.ports import StationCommander
from app.services.reservations import send_cancel, set_status

EXPIRY_INTERVAL_S = 5.0


async def expire_due(
    *,
    session_factory: SessionFactory,
    commander: StationCommander,
    now: datetime,
    timeout_s: float | None = None,
) -> list[int]:
    """Mark every holding reservation past `expires_at` EXPIRED; tell connected stations.

    Returns the ids expired. Safe to run concurrently with itself or a cancellation: each row
    moves only from a holding status.
    """
    async with session_factory() as db:
        due = (
            await db.exec(
                select(Reservation.id, Evse.station_id)
                .join(Evse, col(Evse.id) == Reservation.evse_id)
                .where(col(Reservation.status).in_(list(HOLDING)), Reservation.expires_at <= now)
            )
        ).all()
        expired: list[tuple[int, str]] = []
        for reservation_id, station_id in due:
            assert reservation_id is not None
            if await set_status(
                db, reservation_id, ReservationStatus.EXPIRED, only_from=list(HOLDING)
            ):
                expired.append((reservation_id, station_id))
        await db.commit()
    if expired:
        await asyncio.gather(
            *(
                send_cancel(commander, station_id, reservation_id, timeout_s=timeout_s)
                for reservation_id, station_id in expired
            )
        )
    return [reservation_id for reservation_id, _ in expired]


async def mark_used(
    db: AsyncSession,
    *,
    evse_id: int,
    id_token: str | None,
    reservation_id: int | None = None,
    at: datetime,
) -> int | None:
    """Inside the session-start transaction: the EVSE's holding reservation becomes USED when
    the session names it (2.0.1 reservationId) or starts with its token. Returns its id."""
    conditions = []
    if reservation_id is not None:
        conditions.append(col(Reservation.id) == reservation_id)
    if id_token:
        conditions.append(func.lower(Reservation.id_token) == id_token.lower())
    if not conditions:
        return None
    reservation = (
        await db.exec(
            select(Reservation).where(
                Reservation.evse_id == evse_id,
                col(Reservation.status).in_(list(HOLDING)),
                Reservation.expires_at > at,
                or_(*conditions),
            )
        )
    ).first()
    if reservation is None:
        return None
    reservation.status = ReservationStatus.USED.value
    reservation.updated_at = datetime.now(UTC)
    return reservation.id


class ReservationExpiry(PeriodicTask):
    """The one owner of the expiry sweep: `async with` starts the task, leaving cancels it.

    `clock` is injectable so tests can move time; `swept` is set after every sweep.
    """

    task_name = "reservation expiry sweep"

    def __init__(
        self,
        *,
        session_factory: SessionFactory,
        commander: StationCommander,
        interval_s: float = EXPIRY_INTERVAL_S,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(interval_s=interval_s)
        self._session_factory = session_factory
        self._commander = commander
        self.clock = clock
        self.swept = asyncio.Event()

    async def run_pass(self) -> None:
        await expire_due(
            session_factory=self._session_factory, commander=self._commander, now=self.clock()
        )

    def after_pass(self) -> None:
        self.swept.set()
