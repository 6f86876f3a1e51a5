"""OCPP 1.6 CSMS handlers: each maps its message to domain data and calls one service."""

from typing import Any

from ocpp.exceptions import PropertyConstraintViolationError
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action, DataTransferStatus

from app.domain.enums import AuthorizationStatus, OcppVersion
from app.domain.errors import InvalidInput
from app.ocpp.base import CsmsRouting, HandlerContext, now, on
from app.ocpp.v16 import mapping
from app.services import availability, firmware, stations, transactions
from app.services.transactions import Authorization


class StationHandlers16(CsmsRouting, ChargePoint):  # type: ignore[misc]
    """One connected OCPP 1.6 station."""

    ocpp_version = OcppVersion.V16
    known_actions = frozenset(action.value for action in Action)

    def __init__(
        self, station_id: str, connection: Any, context: HandlerContext, response_timeout: float
    ) -> None:
        super().__init__(station_id, connection, response_timeout=response_timeout)
        self.context = context

    @on(Action.boot_notification)
    async def on_boot_notification(self, **payload: Any) -> Any:
        status = await stations.record_boot(
            session_factory=self.context.session_factory,
            bus=self.context.bus,
            station_id=self.id,
            boot=mapping.boot_info(payload),
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
        self,
        connector_id: int,
        error_code: str,
        status: str,
        timestamp: str | None = None,
        info: str | None = None,
        vendor_id: str | None = None,
        vendor_error_code: str | None = None,
        **_: Any,
    ) -> Any:
        vendor_code = f"{vendor_id}:{vendor_error_code}" if vendor_id else vendor_error_code
        await availability.record_status(
            session_factory=self.context.session_factory,
            group=self.context.group,
            bus=self.context.bus,
            station_id=self.id,
            ocpp_evse_id=mapping.evse_number(connector_id),
            status=mapping.evse_status(status),
            error_code=mapping.error_code(error_code),
            at=mapping.timestamp(timestamp) if timestamp else now(),
            vendor_error_code=vendor_code,
            vendor_info=info,
        )
        return call_result.StatusNotification()

    @on(Action.authorize)
    async def on_authorize(self, id_tag: str, **_: Any) -> Any:
        authorization = await transactions.authorize(
            session_factory=self.context.session_factory, id_token=id_tag
        )
        return call_result.Authorize(id_tag_info=mapping.id_tag_info(authorization))

    @on(Action.start_transaction)
    async def on_start_transaction(
        self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **_: Any
    ) -> Any:
        try:
            started = await transactions.start_session(
                session_factory=self.context.session_factory,
                group=self.context.group,
                bus=self.context.bus,
                station_id=self.id,
                ocpp_evse_id=max(connector_id, 1),
                id_token=id_tag,
                meter_start_wh=meter_start,
                started_at=mapping.timestamp(timestamp),
            )
        except InvalidInput as exc:
            raise PropertyConstraintViolationError(description=str(exc)) from exc
        # 1.6 always names a token; an empty idTag (the schema allows "") authorises nothing.
        authorization = started.authorization or Authorization(AuthorizationStatus.INVALID)
        return call_result.StartTransaction(
            transaction_id=int(started.transaction_id),
            id_tag_info=mapping.id_tag_info(authorization),
        )

    @on(Action.stop_transaction)
    async def on_stop_transaction(
        self,
        meter_stop: int,
        timestamp: str,
        transaction_id: int,
        reason: str | None = None,
        id_tag: str | None = None,
        transaction_data: list[dict[str, Any]] | None = None,
        **_: Any,
    ) -> Any:
        try:
            authorization = await transactions.stop_session(
                session_factory=self.context.session_factory,
                group=self.context.group,
                bus=self.context.bus,
                station_id=self.id,
                transaction_id=str(transaction_id),
                meter_stop_wh=meter_stop,
                ended_at=mapping.timestamp(timestamp),
                reason=reason or "Local",
                id_token=id_tag,
                readings=mapping.readings(transaction_data),
            )
        except InvalidInput as exc:
            raise PropertyConstraintViolationError(description=str(exc)) from exc
        if authorization is None:
            return call_result.StopTransaction()
        return call_result.StopTransaction(id_tag_info=mapping.id_tag_info(authorization))

    @on(Action.meter_values)
    async def on_meter_values(
        self,
        connector_id: int,
        meter_value: list[dict[str, Any]],
        transaction_id: int | None = None,
        **_: Any,
    ) -> Any:
        try:
            await transactions.record_meter_values(
                session_factory=self.context.session_factory,
                group=self.context.group,
                bus=self.context.bus,
                station_id=self.id,
                ocpp_evse_id=mapping.evse_number(connector_id),
                transaction_id=str(transaction_id) if transaction_id is not None else None,
                readings=mapping.readings(meter_value),
            )
        except InvalidInput as exc:
            raise PropertyConstraintViolationError(description=str(exc)) from exc
        return call_result.MeterValues()

    @on(Action.data_transfer)
    async def on_data_transfer(self, vendor_id: str, **_: Any) -> Any:
        # No vendor extensions yet; the frame itself is kept in the message log.
        return call_result.DataTransfer(status=DataTransferStatus.unknown_vendor_id)

    @on(Action.firmware_status_notification)
    async def on_firmware_status_notification(self, status: str, **_: Any) -> Any:
        await firmware.record_firmware_status(
            session_factory=self.context.session_factory,
            bus=self.context.bus,
            station_id=self.id,
            status=status,
            request_id=None,  # 1.6 has none: the station's newest unfinished update
            at=now(),
        )
        return call_result.FirmwareStatusNotification()

    @on(Action.diagnostics_status_notification)
    async def on_diagnostics_status_notification(self, status: str, **_: Any) -> Any:
        await firmware.record_upload_status(
            session_factory=self.context.session_factory,
            bus=self.context.bus,
            station_id=self.id,
            status=status,
            request_id=None,
            at=now(),
        )
        return call_result.DiagnosticsStatusNotification()
