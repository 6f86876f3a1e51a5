"""`stationUpdated(locationIds)`: live snapshots of the operator's stations for a network map."""

from collections.abc import AsyncGenerator

import strawberry

from app.domain.errors import InvalidInput
from app.graphql.context import Info
from app.graphql.loaders import Loaders
from app.graphql.permissions import IsOperator, operator_scope
from app.graphql.types import node
from app.graphql.types.station_live import StationLiveState
from app.services import station_feed, station_live


def _location_keys(values: list[strawberry.ID] | None) -> list[int] | None:
    if values is None:
        return None
    keys = []
    for value in values:
        key = node.decode_int(value, node.LOCATION)
        if key is None:
            raise InvalidInput(f"locationIds entry {value!r} is not a Location id")
        keys.append(key)
    return sorted(set(keys))


async def station_updated(
    info: Info, location_ids: list[strawberry.ID] | None = None
) -> AsyncGenerator[StationLiveState, None]:
    context = info.context
    scope = operator_scope(info)
    stations = await station_live.scoped_stations(
        session_factory=context.session_factory, scope=scope,
        location_ids=_location_keys(location_ids),
    )  # fmt: skip

    async def joining(station_id: str) -> int | None:
        return await station_live.station_in_scope(
            session_factory=context.session_factory, scope=scope, station_id=station_id
        )

    changes = station_feed.station_changes(
        bus=context.bus, session_factory=context.session_factory, stations=stations,
        coalesce_s=context.settings.station_updated_coalesce_s,
        joining=joining if location_ids is None else None,
    )  # fmt: skip
    try:
        batch = list(stations)  # listening now: the current state of every station first
        await anext(changes)
        while True:
            async with context.session_factory() as db:
                live = await station_live.read_live(db, batch)
            # Nested fields re-read through loaders, which cache for the operation's life.
            context.loaders = Loaders(context.session_factory)
            for state in live:
                yield StationLiveState.from_live(state)
            batch = await anext(changes)
    finally:
        await changes.aclose()


@strawberry.type
class StationUpdatedSubscriptions:
    station_updated: AsyncGenerator[StationLiveState, None] = strawberry.subscription(
        resolver=station_updated,
        description="The live state of the caller's stations at these locations (null: all of "
        "them, including stations that join while subscribed), as complete snapshots: each "
        "station's current one first, then one whenever its connectivity, an EVSE's status "
        "or a session starts or ends, and at most one per second for power changes. Another "
        "organisation's location is NOT_FOUND.",
        permission_classes=[IsOperator],
    )
