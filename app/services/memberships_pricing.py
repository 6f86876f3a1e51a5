"""The membership hook at tariff selection: a driver with an active membership of the station's
operator (or a network-wide plan) is priced on the plan's tariff instead of the connector's.

Kept apart from `pricing` (one call in `attach_tariff`) and from `memberships` (which talks
to Stripe), so pricing stays free of payment imports.
"""

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db.models import ChargingStation, Location
from app.db.models import Tariff as TariffRow
from app.db.models.membership import Membership, MembershipPlan

ACTIVE = ("active", "trialing")  # Stripe statuses that grant the plan's prices


async def member_tariff(
    db: AsyncSession, *, driver_id: int | None, station_id: str, tariff: TariffRow | None
) -> TariffRow | None:
    """`tariff` (the connector's), or the plan tariff of the driver's active membership.

    A free connector (no tariff) stays free; with several memberships the newest wins.
    """
    if driver_id is None or tariff is None:
        return tariff
    operator = (
        select(Location.operator_id)
        .join(ChargingStation, col(ChargingStation.location_id) == Location.id)
        .where(ChargingStation.id == station_id)
        .scalar_subquery()
    )
    statement = (
        select(TariffRow)
        .join(MembershipPlan, col(MembershipPlan.tariff_id) == TariffRow.id)
        .join(Membership, col(Membership.plan_id) == MembershipPlan.id)
        .where(Membership.driver_id == driver_id, col(Membership.status).in_(ACTIVE))
        .where(col(MembershipPlan.active).is_(True))
        .where(
            or_(col(MembershipPlan.operator_id).is_(None), MembershipPlan.operator_id == operator)
        )
        .order_by(col(Membership.id).desc())
        .limit(1)
    )
    return (await db.exec(statement)).first() or tariff
