"""OCPP 2.0.1 CSMS handlers: each maps its message to domain data and calls one service."""

import logging
from typing import Any

from ocpp.exceptions import PropertyConstraintViolationError
from ocpp.v201 import ChargePoint, call_result
from ocpp.v201.enums import Action

from app.domain.enums import OcppVersion
from app.domain.errors import InvalidInput
from app.ocpp.base import CsmsRouting, HandlerContext, now, on
from app.ocpp.common import parse_timestamp
from app.ocpp.v201 import mapping
from app.ocpp.v201.notify_event import device_events
from app.services import (
    availability,
    capacity_needs,
    firmware,
    health_events,
    stations,
    transactions,
)

log = logging.getLogger(__name__)


class StationHandlers201(CsmsRouting, ChargePoint):  # type: ignore[misc]
    """One connected OCPP 2.0.1 station."""

    ocpp_version = OcppVersion.V201
    known_actions = frozenset(action.value for action in Action)

    def __init__(
        self, station_id: str, connection: Any, context: HandlerContext, response_timeout: float
    ) -> None:
        super().__init__(station_id, connection, response_timeout=response_timeout)
        self.context = context

    @on(Action.boot_notification)
    async def on_boot_notification(self, charging_station: dict[str, Any], **_: Any) -> Any:
        status = await stations.record_boot(
            session_factory=self.context.session_factory,
            bus=self.context.bus,
            station_id=self.id,
            boot=mapping.boot_info(charging_station),
            at=now(),
        )
        return call_result.BootNotification(
            current_time=now().isoformat(),
            interval=self.context.heartbeat_interval_s,
            status=mapping.registration_status(status),
        )

    @on(Action.heartbeat)
    async def on_heartbeat(self, **_: Any) -> Any:
        at = now()
        await stations.record_heartbeat(
            session_factory=self.context.session_factory,
            group=self.context.group,
            station_id=self.id,
            at=at,
        )
        return call_result.Heartbeat(current_time=at.isoformat())

    @on(Action.status_notification)
    async def on_status_notification(
        self, timestamp: str, connector_status: str, evse_id: int, **_: Any
    ) -> Any:
        await availability.record_status(
            session_factory=self.context.session_factory,
            group=self.context.group,
            bus=self.context.bus,
            station_id=self.id,
            ocpp_evse_id=evse_id if evse_id > 0 else None,
            status=mapping.evse_status(connector_status),
            at=parse_timestamp(timestamp),
        )
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_token: dict[str, Any], **_: Any) -> Any:
        uid = mapping.token_uid(id_token)
        if uid is None:
            return call_result.Authorize(id_token_info={"status": "Accepted"})
        authorization = await transactions.authorize(
            session_factory=self.context.session_factory, id_token=uid
        )
        return call_result.Authorize(id_token_info=mapping.id_token_info(authorization))

    @on(Action.transaction_event)
    async def on_transaction_event(self, **payload: Any) -> Any:
        try:
            authorization = await transactions.apply_transaction_event(
                session_factory=self.context.session_factory,
                group=self.context.group,
                bus=self.context.bus,
                station_id=self.id,
                event=mapping.transaction_event(payload),
            )
        except InvalidInput as exc:
            raise PropertyConstraintViolationError(description=str(exc)) from exc
        if authorization is None:
            return call_result.TransactionEvent()
        return call_result.TransactionEvent(id_token_info=mapping.id_token_info(authorization))

    @on(Action.meter_values)
    async def on_meter_values(
        self, evse_id: int, meter_value: list[dict[str, Any]], **_: Any
    ) -> Any:
        try:
            await transactions.record_meter_values(
                session_factory=self.context.session_factory,
                group=self.context.group,
                bus=self.context.bus,
                station_id=self.id,
                ocpp_evse_id=evse_id if evse_id > 0 else None,
                transaction_id=None,
                readings=mapping.readings(meter_value),
            )
        except InvalidInput as exc:
            raise PropertyConstraintViolationError(description=str(exc)) from exc
        return call_result.MeterValues()

    @on(Action.notify_ev_charging_needs)
    async def on_notify_ev_charging_needs(
        self, evse_id: int, charging_needs: dict[str, Any], **_: Any
    ) -> Any:
        """The EV's energy and departure, for load management (driver's figures win)."""
        energy_wh, departure_at = mapping.charging_needs(charging_needs)
        try:
            found = await capacity_needs.record_charging_needs(
                session_factory=self.context.session_factory,
                bus=self.context.bus,
                station_id=self.id,
                ocpp_evse_id=evse_id,
                energy_wh=energy_wh,
                departure_at=departure_at,
            )
        except InvalidInput as exc:
            raise PropertyConstraintViolationError(description=str(exc)) from exc
        return call_result.NotifyEVChargingNeeds(status="Accepted" if found else "Rejected")

    @on(Action.notify_event)
    async def on_notify_event(self, event_data: list[dict[str, Any]], **_: Any) -> Any:
        await health_events.record_device_events(
            session_factory=self.context.session_factory,
            bus=self.context.bus,
            station_id=self.id,
            events=device_events(event_data),
        )
        return call_result.NotifyEvent()

    @on(Action.firmware_status_notification)
    async def on_firmware_status_notification(
        self, status: str, request_id: int | None = None, **_: Any
    ) -> Any:
        await firmware.record_firmware_status(
            session_factory=self.context.session_factory,
            bus=self.context.bus,
            station_id=self.id,
            status=status,
            request_id=request_id,
            at=now(),
        )
        return call_result.FirmwareStatusNotification()

    @on(Action.log_status_notification)
    async def on_log_status_notification(
        self, status: str, request_id: int | None = None, **_: Any
    ) -> Any:
        await firmware.record_upload_status(
            session_factory=self.context.session_factory,
            bus=self.context.bus,
            station_id=self.id,
            status=status,
            request_id=request_id,
            at=now(),
        )
        return call_result.LogStatusNotification()
