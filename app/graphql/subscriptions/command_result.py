"""`commandResult(commandId)`: a remote command's status, from now until it is final.

Drivers follow their own commands (start, stop); operator users follow the commands on their
network's stations (remote operations). A long-running operation also streams its progress.
"""

from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

import strawberry
from strawberry.permission import BasePermission

from app.db.models import RemoteCommand
from app.graphql.context import Info
from app.graphql.permissions import IsDriver, IsOperator, current_driver_id, operator_scope
from app.graphql.types.command import CommandPayload
from app.services import commands, remote_requests


class IsDriverOrOperator(BasePermission):
    """A driver (their own commands) or an operator user (their network's commands)."""

    message = IsDriver.message

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        principal = info.context.principal
        if principal is not None and principal.driver_id is not None:
            return IsDriver().has_permission(source, info, **kwargs)
        return IsOperator().has_permission(source, info, **kwargs)


def _reader(info: Info, command_id: str) -> Callable[[], Awaitable[RemoteCommand]]:
    context = info.context
    principal = context.principal
    if principal is not None and principal.driver_id is not None:
        driver_id = current_driver_id(info)

        def own() -> Awaitable[RemoteCommand]:
            return commands.get_own_command(
                session_factory=context.session_factory, driver_id=driver_id, command_id=command_id
            )

        return own
    scope = operator_scope(info)

    def network() -> Awaitable[RemoteCommand]:
        return remote_requests.get_network_command(
            session_factory=context.session_factory, scope=scope, command_id=command_id
        )

    return network


async def command_result(
    info: Info, command_id: strawberry.ID
) -> AsyncGenerator[CommandPayload, None]:
    read = _reader(info, str(command_id))
    # Subscribe before the first read, so a change between the two is never lost.
    async with info.context.bus.subscribe(commands.command_topic(str(command_id))) as events:
        row = await read()
        yield CommandPayload.from_row(row)
        last = (row.status, row.progress)
        while row.status in commands.LIVE:
            await events.get()
            row = await read()
            if (row.status, row.progress) != last:
                yield CommandPayload.from_row(row)
                last = (row.status, row.progress)


@strawberry.type
class CommandResultSubscriptions:
    # `resolver=` rather than a decorator: with arguments the decorator is untyped for mypy.
    command_result: AsyncGenerator[CommandPayload, None] = strawberry.subscription(
        resolver=command_result,
        description="A command: first its current state (a late subscriber never misses the "
        "outcome), then each change of status or progress; ends after a final status. Drivers "
        "see their own commands, operator users those on their network's stations.",
        permission_classes=[IsDriverOrOperator],
    )
