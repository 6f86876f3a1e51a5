"""A driver's favourite locations."""

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from app.db.engine import SessionFactory
from app.db.models import Favorite, Location
from app.domain.errors import NotFound


async def set_favorite(
    *, session_factory: SessionFactory, driver_id: int, location_id: int, favorite: bool
) -> Location:
    """Mark or unmark a location as the driver's favourite. Idempotent; NotFound if no location."""
    async with session_factory() as db:
        location = await db.get(Location, location_id)
        if location is None:
            raise NotFound("Location", location_id)
        row = await db.get(Favorite, (driver_id, location_id))
        if favorite and row is None:
            db.add(Favorite(driver_id=driver_id, location_id=location_id))
        elif not favorite and row is not None:
            await db.delete(row)
        else:
            return location
        db.expunge(location)  # a rollback below must not expire what we return
        try:
            await db.commit()
        except IntegrityError:  # the same favourite set concurrently: the outcome is the same
            await db.rollback()
        return location


async def list_favorites(*, session_factory: SessionFactory, driver_id: int) -> list[Location]:
    """The driver's favourite locations, the most recently added first."""
    async with session_factory() as db:
        rows = await db.exec(
            select(Location)
            .join(Favorite, col(Favorite.location_id) == col(Location.id))
            .where(Favorite.driver_id == driver_id)
            .order_by(col(Favorite.created_at).desc(), col(Location.id))
        )
        return list(rows.all())
