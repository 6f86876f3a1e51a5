"""`stopSession`: ask the charger to end one of the caller's sessions."""

from typing import Annotated

import strawberry

from app.domain.errors import InvalidInput, NotFound
from app.graphql.context import Info
from app.graphql.mutations.start_session import command_runner
from app.graphql.permissions import IsDriver, current_driver_id
from app.graphql.types.command import CommandPayload
from app.graphql.types.session import decode_session_id
from app.services import command_outcomes, commands


@strawberry.input
class StopSessionInput:
    session_id: strawberry.ID = strawberry.field(description="Global id of the ChargingSession.")
    client_mutation_id: str | None = strawberry.field(
        default=None,
        description="1-64 characters: a retry with the same value sends no second stop.",
    )


@strawberry.type(description="The caller has no session with this id.")
class SessionNotFound:
    message: str


@strawberry.type(description="The session has already ended (or never started).")
class SessionNotActive:
    message: str


@strawberry.type(description="A value of the input is malformed: `message` names it.")
class InvalidStopSessionInput:
    message: str


StopSessionResult = Annotated[
    CommandPayload | SessionNotFound | SessionNotActive | InvalidStopSessionInput,
    strawberry.union("StopSessionResult"),
]


async def stop_session(info: Info, input: StopSessionInput) -> StopSessionResult:
    key = decode_session_id(input.session_id)
    if key is None:
        return SessionNotFound(message=f"sessionId {input.session_id!r} is not a session id")
    context = info.context
    try:
        requested = await commands.request_stop(
            session_factory=context.session_factory,
            driver_id=current_driver_id(info),
            session_id=key,
            client_mutation_id=input.client_mutation_id,
        )
    except NotFound:
        return SessionNotFound(message=f"you have no session {input.session_id!r}")
    except commands.SessionNotActive as exc:
        return SessionNotActive(message=str(exc))
    except InvalidInput as exc:
        return InvalidStopSessionInput(message=str(exc))
    if requested.created:
        command_runner(info).spawn(
            command_outcomes.run_stop(
                session_factory=context.session_factory,
                bus=context.bus,
                commander=context.commander,
                command_id=requested.command.id,
                stop_window_s=context.settings.remote_command_window_s,
            ),
            name=f"stop {requested.command.id}",
        )
    return CommandPayload.from_row(requested.command)


@strawberry.type
class StopSessionMutation:
    # `resolver=` rather than a decorator: strawberry.mutation with arguments is untyped for mypy.
    stop_session: StopSessionResult = strawberry.mutation(
        resolver=stop_session,
        description="Stop one of the caller's active sessions. Answers at once with a command; "
        "ACCEPTED on commandResult once the charger ended the session.",
        permission_classes=[IsDriver],
    )
