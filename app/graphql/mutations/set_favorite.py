"""`setFavorite`: add a location to, or remove it from, the caller's favourites."""

from typing import Annotated

import strawberry

from app.domain.errors import NotFound
from app.graphql.context import Info
from app.graphql.permissions import IsDriver, current_driver_id
from app.graphql.types import node
from app.graphql.types.location import Location
from app.services import favorites


@strawberry.input
class SetFavoriteInput:
    location_id: strawberry.ID
    favorite: bool = strawberry.field(description="True to add, false to remove.")


@strawberry.type
class FavoriteSet:
    location: Location
    favorite: bool


@strawberry.type(description="No location has this id.")
class LocationNotFound:
    message: str


SetFavoriteResult = Annotated[FavoriteSet | LocationNotFound, strawberry.union("SetFavoriteResult")]


async def set_favorite(info: Info, input: SetFavoriteInput) -> SetFavoriteResult:
    missing = LocationNotFound(message=f"location {input.location_id!r} not found")
    key = node.decode_int(input.location_id, node.LOCATION)
    if key is None:
        return missing
    try:
        row = await favorites.set_favorite(
            session_factory=info.context.session_factory,
            driver_id=current_driver_id(info),
            location_id=key,
            favorite=input.favorite,
        )
    except NotFound:
        return missing
    return FavoriteSet(location=Location.from_row(row), favorite=input.favorite)


@strawberry.type
class SetFavoriteMutation:
    # `resolver=` rather than a decorator: strawberry.mutation with arguments is untyped for mypy.
    set_favorite: SetFavoriteResult = strawberry.mutation(
        resolver=set_favorite,
        description="Mark or unmark a location as a favourite (idempotent).",
        permission_classes=[IsDriver],
    )
