"""`allocationChanged(locationId)`: new charging limits at a location, as they are sent."""

import logging
from collections.abc import AsyncGenerator

import strawberry

from app.domain.errors import InvalidInput
from app.graphql.context import Info
from app.graphql.permissions import IsOperator, operator_scope
from app.graphql.types import node
from app.graphql.types.capacity import AllocationChanged
from app.services import capacity, scoping

log = logging.getLogger(__name__)


async def allocation_changed(
    info: Info, location_id: strawberry.ID
) -> AsyncGenerator[AllocationChanged, None]:
    key = node.decode_int(location_id, node.LOCATION)
    if key is None:
        raise InvalidInput(f"locationId {location_id!r} is not a Location id")
    await scoping.check_location(
        session_factory=info.context.session_factory, scope=operator_scope(info), location_id=key
    )
    async with info.context.bus.subscribe(capacity.allocation_changed(key)) as events:
        async for topic, payload in events:
            try:
                event = AllocationChanged.from_payload(payload)
            except (KeyError, TypeError, ValueError):
                log.warning("dropped a malformed event on %s: %r", topic, payload, exc_info=True)
                continue
            yield event


@strawberry.type
class AllocationSubscriptions:
    allocation_changed: AsyncGenerator[AllocationChanged, None] = strawberry.subscription(
        resolver=allocation_changed,
        description="Charging limits sent to the EVSEs of a location (operator API).",
        permission_classes=[IsOperator],
    )
