"""`startSession`: ask a charger to start charging for the caller; the outcome comes later."""

from datetime import datetime
from typing import Annotated

import strawberry

from app.domain.errors import InvalidInput, NotFound
from app.graphql.context import Info
from app.graphql.permissions import IsDriver, current_driver_id
from app.graphql.types import node
from app.graphql.types.command import CommandPayload
from app.graphql.types.payment import PaymentDeclined
from app.graphql.types.reservation import EvseNotFound, EvseUnavailable
from app.services import command_outcomes, commands, payments
from app.services.command_runner import CommandRunner
from app.services.payments_holds import check_hold_amount
from app.services.payments_results import PaymentDeclined as Declined


@strawberry.input
class StartSessionInput:
    evse_id: strawberry.ID = strawberry.field(description="Global id of the Evse.")
    client_mutation_id: str = strawberry.field(
        description="1-64 characters, unique per attempt: a retry with the same value returns "
        "the first command and never starts a second session."
    )
    connector_id: int | None = strawberry.field(
        default=None, description="The connector number on the EVSE, when it has several."
    )
    payment_method_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="One of me.paymentMethods to hold the session's payment on; default: the "
        "driver's default method (when payments are configured).",
    )
    departure_time: datetime | None = strawberry.field(
        default=None, description="When the driver leaves (helps load management)."
    )
    energy_kwh: float | None = strawberry.field(
        default=None, description="The energy the driver wants, kWh (more than 0, at most 1000)."
    )
    max_amount_minor: int | None = strawberry.field(
        default=None,
        description="The driver's own cap, minor units of the tariff's currency (100 to "
        "100000): the hold placed before the start. Default: the operator's hold for the "
        "tariff or location, else the network default. A price above the hold is captured "
        "up to it and the remainder charged off-session.",
    )


@strawberry.type(description="Another driver holds a reservation on this EVSE.")
class EvseReserved:
    message: str
    reserved_until: datetime


@strawberry.type(description="A value of the input is malformed: `message` names it.")
class InvalidStartSessionInput:
    message: str


StartSessionResult = Annotated[
    CommandPayload
    | EvseNotFound
    | EvseUnavailable
    | EvseReserved
    | InvalidStartSessionInput
    | PaymentDeclined,
    strawberry.union("StartSessionResult"),
]


def command_runner(info: Info) -> CommandRunner:
    """The app's owner of command tasks, which outlive the request that started them."""
    return info.context.commands


async def start_session(info: Info, input: StartSessionInput) -> StartSessionResult:
    evse_key = node.decode_int(input.evse_id, node.EVSE)
    if evse_key is None:
        return EvseNotFound(message=f"evseId {input.evse_id!r} is not an Evse id")
    energy_wh = round(input.energy_kwh * 1000) if input.energy_kwh is not None else None
    if input.max_amount_minor is not None:
        try:
            check_hold_amount(input.max_amount_minor, name="maxAmountMinor")
        except InvalidInput as exc:
            return InvalidStartSessionInput(message=str(exc))
    context = info.context
    try:
        requested = await commands.request_start(
            session_factory=context.session_factory,
            driver_id=current_driver_id(info),
            evse_id=evse_key,
            client_mutation_id=input.client_mutation_id,
            connector_id=input.connector_id,
            departure_at=input.departure_time,
            requested_energy_wh=energy_wh,
        )
    except NotFound:
        return EvseNotFound(message=f"no EVSE has id {input.evse_id!r}")
    except commands.EvseUnavailable as exc:
        return EvseUnavailable(message=str(exc), reason=exc.reason)
    except commands.EvseReserved as exc:
        return EvseReserved(message=str(exc), reserved_until=exc.until)
    except InvalidInput as exc:
        return InvalidStartSessionInput(message=str(exc))
    if context.payments is not None:  # idempotent per command: a retry finds its hold
        # The hold comes before the charger is contacted: declined means never started.
        held = await payments.hold_for_start(
            session_factory=context.session_factory,
            gateway=context.payments,
            driver_id=current_driver_id(info),
            command_id=requested.command.id,
            amount_minor=context.settings.payment_hold_amount_minor,
            payment_method_id=str(input.payment_method_id) if input.payment_method_id else None,
            driver_cap_minor=input.max_amount_minor,
        )
        if isinstance(held, Declined):
            return PaymentDeclined(message=held.message)
    if requested.created:  # a retry must not send a second start
        command_runner(info).spawn(
            command_outcomes.run_start(
                session_factory=context.session_factory,
                bus=context.bus,
                commander=context.commander,
                command_id=requested.command.id,
                start_window_s=context.settings.remote_command_window_s,
            ),
            name=f"start {requested.command.id}",
        )
    return CommandPayload.from_row(requested.command)


@strawberry.type
class StartSessionMutation:
    # `resolver=` rather than a decorator: strawberry.mutation with arguments is untyped for mypy.
    start_session: StartSessionResult = strawberry.mutation(
        resolver=start_session,
        description="Start charging on an EVSE with the caller's app token. Answers at once "
        "with a command; its outcome (ACCEPTED with the session, REJECTED, TIMEOUT, ...) "
        "arrives on commandResult(commandId).",
        permission_classes=[IsDriver],
    )
