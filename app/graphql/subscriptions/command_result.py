"""`commandResult(commandId)`: a remote command's status, from now until it is final."""

from collections.abc import AsyncGenerator

import strawberry

from app.graphql.context import Info
from app.graphql.permissions import IsDriver, current_driver_id
from app.graphql.types.command import CommandPayload
from app.services import commands


async def command_result(
    info: Info, command_id: strawberry.ID
) -> AsyncGenerator[CommandPayload, None]:
    context = info.context
    driver_id = current_driver_id(info)
    # Subscribe before the first read, so a change between the two is never lost.
    async with context.bus.subscribe(commands.command_topic(str(command_id))) as events:
        row = await commands.get_own_command(
            session_factory=context.session_factory, driver_id=driver_id, command_id=command_id
        )
        yield CommandPayload.from_row(row)
        last = row.status
        while row.status in commands.LIVE:
            await events.get()
            row = await commands.get_own_command(
                session_factory=context.session_factory, driver_id=driver_id, command_id=command_id
            )
            if row.status != last:
                yield CommandPayload.from_row(row)
                last = row.status


@strawberry.type
class CommandResultSubscriptions:
    # `resolver=` rather than a decorator: with arguments the decorator is untyped for mypy.
    command_result: AsyncGenerator[CommandPayload, None] = strawberry.subscription(
        resolver=command_result,
        description="The caller's command: first its current state (a late subscriber never "
        "misses the outcome), then each change; ends after a final status.",
        permission_classes=[IsDriver],
    )
