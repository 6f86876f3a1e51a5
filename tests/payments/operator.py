"""How payment tests act as operator users (one place to change when operator auth does)."""

from sqlmodel import col, update
from starlette.applications import Starlette

from app.db.engine import SessionFactory
from app.db.models import Location, Operator, Tariff
from app.domain.access import OperatorRole
from tests.access_builders import make_operator, make_operator_user, operator_bearer


async def operator_headers(
    app: Starlette, operator: Operator, role: OperatorRole = OperatorRole.ADMIN
) -> dict[str, str]:
    """The Authorization header of a new user of `operator` with `role`."""
    runtime = app.state.runtime
    user = await make_operator_user(runtime.session_factory, operator=operator, role=role)
    return operator_bearer(runtime.tokens, user)


async def organisation(session_factory: SessionFactory) -> Operator:
    return await make_operator(session_factory)


async def give(
    session_factory: SessionFactory,
    operator: Operator,
    *,
    location_id: int | None = None,
    tariff_id: int | None = None,
) -> None:
    """Make `operator` the owner of a location and/or a tariff."""
    async with session_factory() as db:
        if location_id is not None:
            await db.exec(
                update(Location)
                .where(col(Location.id) == location_id)
                .values(operator_id=operator.id)
            )
        if tariff_id is not None:
            await db.exec(
                update(Tariff).where(col(Tariff.id) == tariff_id).values(operator_id=operator.id)
            )
        await db.commit()
