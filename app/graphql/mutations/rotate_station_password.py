"""`rotateStationPassword`: give a station a new OCPP password through the protocol."""

from enum import Enum
from typing import Annotated

import strawberry

from app.domain.errors import Conflict, NotFound
from app.graphql.context import Info
from app.graphql.mutations.remote_operation import station_key as node_station_key
from app.graphql.permissions import IsOperatorAdmin, actor, operator_scope
from app.services import station_credentials
from app.services.commands import RemoteCommandStatus


@strawberry.input
class RotateStationPasswordInput:
    station_id: strawberry.ID = strawberry.field(
        description="Global id of the ChargingStation (as in the remote operations)."
    )


@strawberry.type(
    description="The rotation is under way: the station gets a new random password (1.6 "
    "ChangeConfiguration AuthorizationKey, 2.0.1 SetVariables BasicAuthPassword). It is stored "
    "only once the station accepts it; the old one stays valid until the station reconnects "
    "with the new one, at most OCPP_PASSWORD_GRACE_S. The password itself is never shown."
)
class PasswordRotationStarted:
    command_id: strawberry.ID
    station_id: str
    status: RemoteCommandStatus


@strawberry.enum(description="Why no rotation was started.")
class PasswordRotationRefusal(Enum):
    STATION_NOT_FOUND = "STATION_NOT_FOUND"
    STATION_NOT_CONNECTED = "STATION_NOT_CONNECTED"
    ROTATION_IN_PROGRESS = "ROTATION_IN_PROGRESS"


@strawberry.type(description="No rotation was started: `reason` says why.")
class PasswordRotationRefused:
    reason: PasswordRotationRefusal
    message: str


RotateStationPasswordResult = Annotated[
    PasswordRotationStarted | PasswordRotationRefused,
    strawberry.union("RotateStationPasswordResult"),
]


def _not_found(station_id: str) -> PasswordRotationRefused:
    return PasswordRotationRefused(
        reason=PasswordRotationRefusal.STATION_NOT_FOUND,
        message=f"station {station_id[:80]!r} not found in your network",
    )


async def rotate_station_password(
    info: Info, input: RotateStationPasswordInput
) -> RotateStationPasswordResult:
    context = info.context
    station_id = node_station_key(str(input.station_id))
    if station_id is None:
        return _not_found(input.station_id)
    try:
        command = await station_credentials.request_rotation(
            session_factory=context.session_factory,
            scope=operator_scope(info),
            station_id=station_id,
            actor=actor(info),
            connected=context.commander.is_connected,
        )
    except NotFound:
        return _not_found(input.station_id)
    except station_credentials.StationOffline as exc:
        return PasswordRotationRefused(
            reason=PasswordRotationRefusal.STATION_NOT_CONNECTED, message=str(exc)
        )
    except Conflict as exc:
        return PasswordRotationRefused(
            reason=PasswordRotationRefusal.ROTATION_IN_PROGRESS, message=str(exc)
        )
    context.commands.spawn(
        station_credentials.run_rotation(
            session_factory=context.session_factory,
            bus=context.bus,
            commander=context.commander,
            command_id=command.id,
            grace_s=context.settings.ocpp_password_grace_s,
        ),
        name=f"rotate-password-{command.id}",
    )
    return PasswordRotationStarted(
        command_id=strawberry.ID(command.id),
        station_id=station_id,
        status=RemoteCommandStatus(command.status),
    )


@strawberry.type
class RotateStationPasswordMutation:
    rotate_station_password: RotateStationPasswordResult = strawberry.mutation(
        resolver=rotate_station_password,
        description="Give a connected station a new random OCPP password (operator admins; "
        "audited). Returns a command id at once; the outcome is the command's final status.",
        permission_classes=[IsOperatorAdmin],
    )
