"""`me`: the calling driver."""

import strawberry

from app.graphql.context import Info
from app.graphql.permissions import IsDriver, current_driver_id
from app.graphql.types.driver import Driver
from app.services import accounts


async def resolve_me(info: Info) -> Driver:
    row = await accounts.get_active_driver(
        session_factory=info.context.session_factory, driver_id=current_driver_id(info)
    )
    return Driver.from_row(row)


@strawberry.type
class MeQueries:
    # `resolver=` rather than a decorator: strawberry.field with arguments is untyped for mypy.
    me: Driver = strawberry.field(
        resolver=resolve_me,
        description="The logged-in driver; everything under it is the caller's own data.",
        permission_classes=[IsDriver],
    )
