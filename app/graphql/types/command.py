"""`CommandPayload`: a remote command (start, stop, remote operations) and where its outcome
stands."""

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
        "waits for the transaction to start (or end), or for a reset, firmware update or "
        "diagnostics upload to reach its end state (see `progress`). Final: ACCEPTED (the "
        "session started or ended; the operation done), REJECTED, EVSE_OCCUPIED, "
        "EVSE_INOPERATIVE (offline or out of service), NOT_SUPPORTED, TIMEOUT, FAILED."
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
    progress: str | None = strawberry.field(
        default=None,
        description="Long-running operations: the station's latest report, e.g. Rebooting, "
        "Booted (reset); Downloading, Installing, Installed (firmware); Uploading, Uploaded.",
    )
    station_answer: str | None = strawberry.field(
        default=None,
        description="The station's own status word in its answer, e.g. Unlocked, "
        "RebootRequired, Scheduled, NotSupported.",
    )
    reason: str | None = strawberry.field(
        default=None, description="Why a command failed or timed out, when known."
    )

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
        detail = row.detail or {}
        return cls(
            command_id=strawberry.ID(row.id),
            kind=CommandKind(row.kind),
            status=RemoteCommandStatus(row.status),
            client_mutation_id=row.client_mutation_id,
            created_at=row.created_at,
            completed_at=row.completed_at,
            session_key=row.session_id,
            driver_key=row.driver_id,
            progress=row.progress,
            station_answer=_answer(detail.get("answer")),
            reason=str(detail["reason"]) if detail.get("reason") else None,
        )


def _answer(value: object) -> str | None:
    """The station's status word: stored as a string (operations) or an answer dict (start)."""
    if isinstance(value, dict):
        value = value.get("status")
    return str(value) if value else None
