"""Builders for reservation tests: drivers with an app token, access tokens, reservation rows."""

import itertools
from datetime import UTC, datetime, timedelta

from app.db.engine import SessionFactory
from app.db.models import Driver, IdToken, Reservation
from app.domain.enums import IdTokenType
from app.domain.reservations import ReservationStatus
from app.services.auth import Principal, PrincipalKind, TokenService

_counter = itertools.count(1)


async def make_driver(session_factory: SessionFactory) -> tuple[int, str]:
    """A driver with an APP token; returns (driver id, token uid)."""
    number = next(_counter)
    async with session_factory() as db:
        driver = Driver(email=f"driver{number}@example.com", password_hash="not-a-real-hash")
        db.add(driver)
        await db.flush()
        assert driver.id is not None
        uid = f"APP{number:08d}"
        db.add(IdToken(uid=uid, type=IdTokenType.APP, driver_id=driver.id))
        await db.commit()
        return driver.id, uid


def bearer(tokens: TokenService, driver_id: int) -> dict[str, str]:
    token, _ = tokens.issue(Principal(PrincipalKind.DRIVER, driver_id))
    return {"Authorization": f"Bearer {token}"}


async def make_reservation(
    session_factory: SessionFactory,
    *,
    driver_id: int,
    evse_id: int,
    id_token: str,
    status: ReservationStatus = ReservationStatus.ACTIVE,
    expires_at: datetime | None = None,
) -> Reservation:
    async with session_factory() as db:
        row = Reservation(
            driver_id=driver_id,
            evse_id=evse_id,
            id_token=id_token,
            status=status.value,
            expires_at=expires_at or datetime.now(UTC) + timedelta(minutes=10),
        )
        db.add(row)
        await db.commit()
        await db.refresh(row)
        return row
