"""How much to hold before a remote start: the driver's cap, else the operator's setting for the
tariff, else for the location, else `PAYMENT_HOLD_AMOUNT_MINOR`. Operators set theirs here."""

from datetime import UTC, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.engine import SessionFactory
from app.db.models import ChargingStation, Evse, Location, Tariff
from app.db.models.payment import HoldSetting
from app.domain.errors import InvalidInput, NotFound
from app.services import audit
from app.services.alerts import OperatorScope

MIN_HOLD_MINOR = 100  # below 1.00 a hold costs more in card fees than it protects
MAX_HOLD_MINOR = 100_000  # 1,000.00: more than any session at a public charger


def check_hold_amount(amount_minor: int, *, name: str = "amount") -> int:
    if not MIN_HOLD_MINOR <= amount_minor <= MAX_HOLD_MINOR:
        raise InvalidInput(
            f"{name} {amount_minor} minor units: expected {MIN_HOLD_MINOR} to {MAX_HOLD_MINOR}"
        )
    return amount_minor


async def _setting(db: AsyncSession, column: object, key: int | None) -> int | None:
    if key is None:
        return None
    statement = select(HoldSetting.amount_minor).where(column == key)
    return (await db.exec(statement)).first()


async def hold_amount(
    db: AsyncSession,
    *,
    evse_id: int,
    tariff_id: int | None,
    driver_cap_minor: int | None,
    default_minor: int,
) -> int:
    """The hold for a start on `evse_id` priced on `tariff_id` (minor units)."""
    if driver_cap_minor is not None:
        return check_hold_amount(driver_cap_minor, name="maxAmountMinor")
    from_tariff = await _setting(db, col(HoldSetting.tariff_id), tariff_id)
    if from_tariff is not None:
        return from_tariff
    statement = (
        select(ChargingStation.location_id)
        .join(Evse, col(Evse.station_id) == ChargingStation.id)
        .where(Evse.id == evse_id)
    )
    location_id = (await db.exec(statement)).first()
    from_location = await _setting(db, col(HoldSetting.location_id), location_id)
    return from_location if from_location is not None else default_minor


async def set_hold_amount(
    *,
    session_factory: SessionFactory,
    scope: OperatorScope,
    actor: str,
    location_id: int | None = None,
    tariff_id: int | None = None,
    amount_minor: int | None,
) -> HoldSetting | None:
    """Set (or with `amount_minor=None` clear) the hold of one location or one tariff of the
    caller's organisation; audited. Another organisation's target is NotFound."""
    if (location_id is None) == (tariff_id is None):
        raise InvalidInput("name exactly one of locationId and tariffId")
    if amount_minor is not None:
        check_hold_amount(amount_minor)
    async with session_factory() as db:
        found: Location | Tariff | None
        if location_id is not None:
            found = await db.get(Location, location_id)
            name, column, key = f"location:{location_id}", col(HoldSetting.location_id), location_id
        else:
            assert tariff_id is not None
            found = await db.get(Tariff, tariff_id)
            name, column, key = f"tariff:{tariff_id}", col(HoldSetting.tariff_id), tariff_id
        owner = found.operator_id if found is not None else None
        if found is None or (scope.operator_id is not None and owner != scope.operator_id):
            raise NotFound("Location" if location_id is not None else "Tariff", key)
        row = (await db.exec(select(HoldSetting).where(column == key))).first()
        previous = row.amount_minor if row is not None else None
        if amount_minor is None:
            if row is not None:
                await db.delete(row)
            row = None
        else:
            row = row or HoldSetting(location_id=location_id, tariff_id=tariff_id, amount_minor=0)
            row.amount_minor, row.updated_by = amount_minor, actor[:100]
            row.updated_at = datetime.now(UTC)
            db.add(row)
        await audit.record(
            db=db, actor=actor, operator_id=owner, action="payment.hold_amount.set", target=name,
            detail={"amount_minor": amount_minor, "previous_minor": previous},
        )  # fmt: skip
        await db.commit()
        if row is not None:
            await db.refresh(row)
        return row
