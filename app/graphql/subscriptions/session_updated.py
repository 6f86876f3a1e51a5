"""`sessionUpdated(sessionId)`: full snapshots of one of the caller's sessions until it ends."""

from collections.abc import AsyncGenerator

import strawberry

from app.domain.enums import SessionStatus
from app.domain.errors import NotFound
from app.events import topics
from app.graphql.context import Info
from app.graphql.permissions import IsDriver, current_driver_id
from app.graphql.types.session import ChargingSession, decode_session_id
from app.services import sessions


async def session_updated(
    info: Info, session_id: strawberry.ID
) -> AsyncGenerator[ChargingSession, None]:
    key = decode_session_id(session_id)
    if key is None:
        raise NotFound("ChargingSession", session_id)
    context = info.context
    driver_id = current_driver_id(info)
    async with context.bus.subscribe(topics.session_updated(key)) as events:
        row = await sessions.get_own_session(
            session_factory=context.session_factory, driver_id=driver_id, session_id=key
        )
        yield ChargingSession.from_row(row)
        while row.status == SessionStatus.ACTIVE:
            await events.get()
            # Re-read instead of trusting the event: a lost event is never a lost state.
            row = await sessions.get_own_session(
                session_factory=context.session_factory, driver_id=driver_id, session_id=key
            )
            yield ChargingSession.from_row(row)


@strawberry.type
class SessionUpdatedSubscriptions:
    # `resolver=` rather than a decorator: with arguments the decorator is untyped for mypy.
    session_updated: AsyncGenerator[ChargingSession, None] = strawberry.subscription(
        resolver=session_updated,
        description="The caller's session as complete snapshots (never deltas): the current one "
        "first, then one per change, re-read each time; ends once COMPLETED.",
        permission_classes=[IsDriver],
    )
