"""What every remote-operation mutation does: record the command (and its audit), start
following it in the background, answer the command at once or why nothing was sent."""

from app.domain.errors import InvalidInput, NotFound, StationNotConnected
from app.graphql.context import Info
from app.graphql.permissions import actor, operator_scope
from app.graphql.types import node
from app.graphql.types.command import CommandPayload
from app.graphql.types.remote_ops import (
    InvalidOperationInput,
    RemoteOperationResult,
    StationNotFound,
)
from app.graphql.types.remote_ops import StationNotConnected as NotConnected
from app.graphql.types.reservation import EvseNotFound
from app.services import remote_operations
from app.services.remote_operations import OperationRequest


def station_key(station_id: str) -> str | None:
    """The station's identity from its global id (ChargingStation:<identity>)."""
    decoded = node.decode(station_id)
    if decoded is None or decoded[0] != node.CHARGING_STATION:
        return None
    return decoded[1]


async def dispatch(info: Info, request: OperationRequest, shown_id: str) -> RemoteOperationResult:
    """Run `request` for the caller; `shown_id` names the target in a not-found message."""
    context = info.context
    try:
        command = await remote_operations.request_operation(
            session_factory=context.session_factory,
            commander=context.commander,
            scope=operator_scope(info),
            actor=actor(info),
            request=request,
        )
    except NotFound as exc:
        if request.evse_key is not None:
            return EvseNotFound(message=f"no EVSE has id {shown_id!r} in your network")
        return StationNotFound(message=f"no station has id {shown_id!r} in your network: {exc}")
    except StationNotConnected as exc:
        return NotConnected(message=str(exc))
    except InvalidInput as exc:
        return InvalidOperationInput(message=str(exc))
    settings = context.settings
    context.commands.spawn(
        remote_operations.run_operation(
            session_factory=context.session_factory,
            bus=context.bus,
            commander=context.commander,
            command_id=command.id,
            reboot_window_s=settings.remote_operation_window_s,
            firmware_window_s=settings.firmware_update_window_s,
        ),
        name=f"{command.kind.lower()} {command.id}",
    )
    return CommandPayload.from_row(command)


def not_found(shown_id: str) -> StationNotFound:
    return StationNotFound(message=f"stationId {shown_id!r} is not a ChargingStation id")


def evse_not_found(shown_id: str) -> EvseNotFound:
    return EvseNotFound(message=f"evseId {shown_id!r} is not an Evse id")
