"""`evseStatusChanged(locationIds)`: live EVSE status changes of some locations."""

import logging
from collections.abc import AsyncGenerator
from typing import Any

import strawberry

from app.domain.errors import InvalidInput, NotFound
from app.events import topics
from app.graphql import fanout, fields
from app.graphql.context import Info
from app.graphql.types import node
from app.graphql.types.events import EvseStatusChanged
from app.services import locations

log = logging.getLogger(__name__)

MAX_LOCATIONS = 100


def parse_location_ids(values: list[strawberry.ID]) -> list[int]:
    if not values:
        raise InvalidInput("locationIds is empty: expected 1 to 100 Location ids")
    if len(values) > MAX_LOCATIONS:
        raise InvalidInput(
            f"locationIds has {len(values)} ids: expected at most {MAX_LOCATIONS} per subscription"
        )
    keys: list[int] = []
    for value in values:
        key = node.decode_int(value, node.LOCATION)
        if key is None:
            raise InvalidInput(f"locationIds entry {value!r} is not a Location id")
        keys.append(key)
    return sorted(set(keys))


@strawberry.type
class EvseStatusSubscriptions:
    @fields.subscription(
        description="Every EVSE status change at these locations (at most 100), as it happens."
    )
    async def evse_status_changed(
        self, info: Info, location_ids: list[strawberry.ID]
    ) -> AsyncGenerator[EvseStatusChanged, None]:
        keys = parse_location_ids(location_ids)
        # Read once, not through the connection's loaders: their cache would hold these rows
        # for as long as the subscription lives (a thousand subscribers, ten rows each).
        async with info.context.session_factory() as db:
            found = {row.id for row in await locations.locations_by_id(db=db, ids=keys)}
        for key in keys:
            if key not in found:
                raise NotFound("Location", node.global_id(node.LOCATION, key).__str__())
        subscribed = [topics.evse_status(key) for key in keys]
        async with info.context.bus.subscribe(*subscribed) as subscription:
            delivery = fanout.current_delivery()
            if delivery is not None:
                # Public data: every subscriber with this document and these variables gets
                # the same payload, executed and encoded once per event (fanout.py).
                await delivery.forward(subscription, visibility=None, root=_event)
                return
            async for topic, payload in subscription:
                event = _event(topic, payload)
                if event is not None:
                    yield event


def _event(topic: str, payload: dict[str, Any]) -> EvseStatusChanged | None:
    try:
        return EvseStatusChanged.from_payload(payload)
    except (KeyError, TypeError, ValueError):
        log.warning("dropped a malformed event on %s: %r", topic, payload, exc_info=True)
        return None
