"""`CommandPayload`: a remote command (start, stop) and where its outcome stands."""

from datetime import datetime

import strawberry

from app.db import models
from app.graphql import fields
from app.graphql.context import Info
from app.graphql.types.session import ChargingSession
from app.services import sessions
from app.services.commands import CommandKind, RemoteCommandStatus

strawberry.enum(CommandKind, description="What a remote command asks the charger.")
strawberry.enum(
    RemoteCommandStatus,
    name="CommandStatus",
    description=(
        "PENDING: sent, no answer yet. ACCEPTED_PENDING: the charger accepted and the backend "
        "waits for the transaction to start (or end). Final: ACCEPTED (the session started or "
        "ended), REJECTED, EVSE_OCCUPIED, EVSE_INOPERATIVE (offline or out of service), "
        "TIMEOUT, FAILED."
    ),
)


@strawberry.type(
    description=(
        "A remote command, answered at once. Its outcome arrives on commandResult(commandId)."
    )
)
class CommandPayload:
    command_id: strawberry.ID
    kind: CommandKind
    status: RemoteCommandStatus
    client_mutation_id: str | None
    created_at: datetime
    completed_at: datetime | None
    session_key: strawberry.Private[int | None]
    driver_key: strawberry.Private[int | None]

    @fields.field(description="The session started (START) or stopped (STOP), once known.")
    async def session(self, info: Info) -> ChargingSession | None:
        if self.session_key is None or self.driver_key is None:
            return None
        row = await sessions.get_own_session(
            session_factory=info.context.session_factory,
            driver_id=self.driver_key,
            session_id=self.session_key,
        )
        return ChargingSession.from_row(row)

    @classmethod
    def from_row(cls, row: models.RemoteCommand) -> "CommandPayload":
        return cls(
            command_id=strawberry.ID(row.id),
            kind=CommandKind(row.kind),
            status=RemoteCommandStatus(row.status),
            client_mutation_id=row.client_mutation_id,
            created_at=row.created_at,
            completed_at=row.completed_at,
            session_key=row.session_id,
            driver_key=row.driver_id,
        )
