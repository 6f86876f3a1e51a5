"""`locations` (search with cursor pagination) and `location(id)`."""

import base64
import binascii
from collections.abc import Iterable, Iterator
from typing import Annotated

import strawberry
from sqlmodel.ext.asyncio.session import AsyncSession
from strawberry import relay
from strawberry.types.nodes import FragmentSpread, InlineFragment, Selection

from app.domain.errors import InvalidInput
from app.domain.geo import BoundingBox
from app.graphql import fields
from app.graphql.context import Info
from app.graphql.types import node
from app.graphql.types.inputs import LocationFilter
from app.graphql.types.location import Location, LocationConnection
from app.services import locations as service

DEFAULT_PAGE_SIZE = 20
_CURSOR_PREFIX = "location:"


def encode_cursor(value: str) -> str:
    return base64.urlsafe_b64encode(f"{_CURSOR_PREFIX}{value}".encode()).decode()


def decode_cursor(cursor: str) -> str:
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (binascii.Error, UnicodeError, ValueError):
        text = ""
    if not text.startswith(_CURSOR_PREFIX):
        raise InvalidInput(
            f"after {cursor!r} is not a cursor: expected an endCursor of `locations`"
        )
    return text.removeprefix(_CURSOR_PREFIX)


def to_query(given: LocationFilter | None) -> service.LocationQuery:
    if given is None:
        return service.LocationQuery()
    box = given.bbox
    return service.LocationQuery(
        near=(given.near.latitude, given.near.longitude) if given.near else None,
        radius_m=given.radius_meters,
        bbox=(
            BoundingBox(box.min_latitude, box.min_longitude, box.max_latitude, box.max_longitude)
            if box
            else None
        ),
        connector_standards=frozenset(given.connector_standards or ()),
        min_power_w=round(given.min_power_kw * 1000) if given.min_power_kw is not None else None,
        available_only=given.available_only,
    )


def check_page_size(first: int, limit: int) -> None:
    if first < 0:
        raise InvalidInput(f"first {first} is negative: expected 0 to {limit}")
    if first > limit:
        raise InvalidInput(f"first {first} is above the page size limit: expected at most {limit}")


def selected_paths(selections: Iterable[Selection], prefix: str = "") -> Iterator[str]:
    """Dotted GraphQL field names selected below `selections`, fragments flattened
    (`edges.node.evses.connectors`); @skip/@include are ignored, so it may say more."""
    for selection in selections:
        if isinstance(selection, FragmentSpread | InlineFragment):
            yield from selected_paths(selection.selections, prefix)
            continue
        path = f"{prefix}{selection.name}"
        yield path
        yield from selected_paths(selection.selections, f"{path}.")


async def prefetch_page(info: Info, location_ids: list[int], db: AsyncSession) -> None:
    """Load what the selection asks below a page of locations in one batch per kind, before
    its fields run: they then answer synchronously (see `Loaders.prefetch_location_tree`).
    `db` is the search's session: the page reads in one session, not one per kind."""
    node = "edges.node."
    below = [selection for field in info.selected_fields for selection in field.selections]
    paths = {p.removeprefix(node) for p in selected_paths(below) if p.startswith(node)}
    if not paths & {"evses", "availableEvses", "totalEvses", "maxPowerKw"} or not location_ids:
        return
    await info.context.loaders.prefetch_location_tree(
        location_ids,
        connectors="evses.connectors" in paths or "maxPowerKw" in paths,
        tariffs="evses.connectors.tariff" in paths,
        stations="evses.station" in paths,
        db=db,
    )


@strawberry.type
class LocationQueries:
    @fields.field(description="Search locations: nearest first with `near`, else by id.")
    async def locations(
        self,
        info: Info,
        filter: LocationFilter | None = None,
        first: Annotated[
            int | None,
            strawberry.argument(description=f"Page size; {DEFAULT_PAGE_SIZE} if omitted."),
        ] = None,
        after: str | None = None,
    ) -> LocationConnection:
        limit = info.context.settings.graphql_max_page_size
        size = min(DEFAULT_PAGE_SIZE, limit) if first is None else first
        check_page_size(size, limit)
        query = to_query(filter)
        async with info.context.session_factory() as db:
            page = await service.search_locations(
                db=db,
                query=query,
                first=size,
                after=decode_cursor(after) if after is not None else None,
            )
            ids = [hit.location.id for hit in page.hits if hit.location.id]
            await prefetch_page(info, ids, db)
        edges = [
            relay.Edge(
                cursor=encode_cursor(hit.cursor),
                node=Location.from_row(hit.location, hit.distance_m),
            )
            for hit in page.hits
        ]
        return LocationConnection(
            edges=edges,
            page_info=relay.PageInfo(
                has_next_page=page.has_next_page,
                has_previous_page=page.has_previous_page,
                start_cursor=edges[0].cursor if edges else None,
                end_cursor=edges[-1].cursor if edges else None,
            ),
            total_count=page.total_count,
        )

    @fields.field(description="A location by its global id; null when there is none.")
    async def location(self, info: Info, id: strawberry.ID) -> Location | None:
        key = node.decode_int(id, node.LOCATION)
        if key is None:
            return None
        row = await info.context.loaders.location.load(key)
        return Location.from_row(row) if row is not None else None
