"""The OCPP 2.0.1 simulated charging station: its frames and its answers to the CSMS's CALLs."""

from typing import Any

from ocpp.v201 import ChargePoint, call, call_result
from websockets.asyncio.client import ClientConnection

from app.simulator import credentials, operations
from app.simulator.frames import STOP_REASONS_201, meter_value_201, now_iso
from app.simulator.link import Outgoing, after, on
from app.simulator.model import EvseState, Sample, Transaction, profile_limit_w
from app.simulator.operations import OperationHandlers201
from app.simulator.reservations import ReservationHandlers201
from app.simulator.station import SimulatedStation

TRIGGERABLE = (
    "BootNotification",
    "Heartbeat",
    "StatusNotification",
    "MeterValues",
    "TransactionEvent",
    "FirmwareStatusNotification",
    "LogStatusNotification",
)


class SimulatedStation201(SimulatedStation):
    """A charging station speaking OCPP 2.0.1; each EVSE has one connector (id 1)."""

    protocol = "2.0.1"
    subprotocol = "ocpp2.0.1"
    STATUS = {
        "available": "Available", "preparing": "Occupied", "charging": "Occupied",
        "finishing": "Occupied", "unavailable": "Unavailable",
    }  # fmt: skip

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.boot_reason = "PowerUp"
        self.variables: dict[tuple[str, str], str] = {
            ("OCPPCommCtrlr", "HeartbeatInterval"): str(int(self.heartbeat_interval_s)),
            ("SampledDataCtrlr", "TxUpdatedInterval"): str(int(self.meter_interval_s)),
            ("AuthCtrlr", "AuthorizeRemoteStart"): "false",
            ("AuthCtrlr", "LocalAuthorizeOffline"): "true",
            ("ChargingStation", "Model"): "SimCharger",
            ("ChargingStation", "VendorName"): "chargenet",
        }

    def _make_client(self, socket: ClientConnection) -> Any:
        return _Client201(self, socket)

    def _boot_request(self) -> Any:
        return call.BootNotification(
            charging_station={
                "model": "SimCharger", "vendor_name": "chargenet",
                "serial_number": self.serial, "firmware_version": self.firmware,
            },
            reason=self.boot_reason,
        )  # fmt: skip

    def _heartbeat_request(self) -> Any:
        return call.Heartbeat()

    def _status_request(self, evse_id: int, status: str) -> Any:
        return call.StatusNotification(
            timestamp=now_iso(), connector_status=status, evse_id=evse_id, connector_id=1
        )

    def _authorize_request(self, token: str) -> Any:
        return call.Authorize(id_token={"id_token": token, "type": "ISO14443"})

    def _authorized(self, result: Any) -> bool:
        return bool(result.id_token_info.get("status") == "Accepted")

    def _event(self, tx: Transaction, event_type: str, trigger: str, **extra: Any) -> Outgoing:
        info: dict[str, Any] = {"transaction_id": tx.local_id, "charging_state": "Charging"}
        info.update(extra.pop("info", {}))
        payload = call.TransactionEvent(
            event_type=event_type, timestamp=now_iso(), trigger_reason=trigger,
            seq_no=tx.next_seq_no(), transaction_info=info,
            offline=None if self.online else True, **extra,
        )  # fmt: skip
        return Outgoing(f"TransactionEvent{event_type}", lambda: payload)

    def _start_message(self, tx: Transaction, sample: Sample, trigger: str) -> Outgoing:
        item = self._event(
            tx, "Started", trigger,
            info={"remote_start_id": tx.remote_start_id} if tx.remote_start_id else {},
            id_token={"id_token": tx.token, "type": "ISO14443"},
            evse={"id": tx.evse_id, "connector_id": 1}, reservation_id=tx.reservation_id,
            meter_value=[meter_value_201(sample, "Transaction.Begin")],
        )  # fmt: skip

        def started(result: Any) -> None:
            info = result.id_token_info
            if info is not None and info.get("status") != "Accepted":
                tx.rejected = True
                self.evses[tx.evse_id].wake.set()

        item.on_result = started
        return item

    def _meter_message(self, evse: EvseState, sample: Sample, context: str) -> Outgoing:
        tx = evse.transaction
        if tx is None:
            payload = call.MeterValues(
                evse_id=evse.id, meter_value=[meter_value_201(sample, context)]
            )
            return Outgoing("MeterValues", lambda: payload)
        trigger = "Trigger" if context == "Trigger" else "MeterValuePeriodic"
        return self._event(tx, "Updated", trigger, meter_value=[meter_value_201(sample, context)])

    def _stop_message(self, tx: Transaction, sample: Sample, reason: str) -> Outgoing:
        stopped, trigger = STOP_REASONS_201.get(reason, STOP_REASONS_201["other"])
        return self._event(
            tx, "Ended", trigger,
            info={"charging_state": "EVConnected", "stopped_reason": stopped},
            meter_value=[meter_value_201(sample, "Transaction.End")],
        )  # fmt: skip

    async def reset(self, *, hard: bool) -> None:
        self.boot_reason = "RemoteReset"
        await super().reset(hard=hard)

    async def trigger(self, message: str, evse_id: int | None) -> None:
        """Send what a TriggerMessage asked for."""
        evses = [evse_id] if evse_id else list(self.evses)
        if message == "BootNotification":
            self.boot_reason = "Triggered"
            await self.boot()
        elif message == "Heartbeat":
            await self.heartbeat()
        elif message == "StatusNotification":
            for number in evses:
                await self.send_status(number, self.evses[number].status)
        elif message in ("MeterValues", "TransactionEvent"):
            for number in evses:
                if message == "MeterValues" or self.evses[number].transaction is not None:
                    self.queue_meter_values(number, "Trigger")
        elif message == "FirmwareStatusNotification":
            await operations.report_status(self, "firmware")
        elif message == "LogStatusNotification":
            await operations.report_status(self, "upload")

    def set_variable(self, component: str, variable: str, value: str) -> str:
        key = (component, variable)
        if key == credentials.BASIC_AUTH_PASSWORD:  # write-only: never in `variables`
            return credentials.accept_password(self, value)
        if key not in self.variables:
            known = any(c == component for c, _ in self.variables)
            return "UnknownVariable" if known else "UnknownComponent"
        if component == "ChargingStation":
            return "Rejected"  # read-only identity
        if variable in ("HeartbeatInterval", "TxUpdatedInterval"):
            if not value.isdigit() or int(value) <= 0:
                return "Rejected"
            if variable == "HeartbeatInterval":
                self.heartbeat_s = float(value)
            else:
                self.meter_interval_s = float(value)
        self.variables[key] = value
        return "Accepted"


class _Client201(ReservationHandlers201, OperationHandlers201, ChargePoint):  # type: ignore[misc]
    """The `ocpp` ChargePoint on one connection; hands every CALL to its station."""

    def __init__(self, station: SimulatedStation201, socket: ClientConnection) -> None:
        super().__init__(station.station_id, socket, response_timeout=station.call_timeout_s)
        self.station = station

    @on("RequestStartTransaction")
    def on_request_start(self, **p: Any) -> Any:
        self.station.answered("RequestStartTransaction", p)
        token = p["id_token"]["id_token"]
        number = self.station.request_start(p.get("evse_id"), token, p["remote_start_id"])
        if number and p.get("charging_profile"):
            evse = self.station.evses[number]
            self.station.apply_limit(number, profile_limit_w(p["charging_profile"], evse))
        return call_result.RequestStartTransaction(status="Accepted" if number else "Rejected")

    @on("RequestStopTransaction")
    def on_request_stop(self, **p: Any) -> Any:
        self.station.answered("RequestStopTransaction", p)
        found = self.station.find_transaction(p["transaction_id"])
        return call_result.RequestStopTransaction(status="Accepted" if found else "Rejected")

    @after("RequestStopTransaction")
    def after_request_stop(self, **p: Any) -> None:
        evse = self.station.find_transaction(p["transaction_id"])
        if evse is not None:
            self.station.end_transaction(evse.id, "remote")

    @on("Reset")
    def on_reset(self, **p: Any) -> Any:
        self.station.answered("Reset", p)
        return call_result.Reset(status="Accepted")

    @after("Reset")
    def after_reset(self, **p: Any) -> None:
        self.station.spawn(self.station.reset(hard=False))

    @on("TriggerMessage")
    def on_trigger(self, **p: Any) -> Any:
        self.station.answered("TriggerMessage", p)
        evse_id = (p.get("evse") or {}).get("id")
        ok = p["requested_message"] in TRIGGERABLE and evse_id in (None, 0, *self.station.evses)
        return call_result.TriggerMessage(status="Accepted" if ok else "NotImplemented")

    @after("TriggerMessage")
    def after_trigger(self, **p: Any) -> None:
        if p["requested_message"] in TRIGGERABLE:
            evse_id = (p.get("evse") or {}).get("id")
            self.station.spawn(self.station.trigger(p["requested_message"], evse_id))

    @on("SetChargingProfile")
    def on_set_charging_profile(self, **p: Any) -> Any:
        self.station.answered("SetChargingProfile", p)
        number, profile = int(p["evse_id"]), p["charging_profile"]
        if number and number not in self.station.evses:
            return call_result.SetChargingProfile(status="Rejected")
        limit = profile_limit_w(profile, self.station.evses[number or 1])
        self.station.charging_profiles.append((number, profile))
        self.station.apply_limit(number, limit, profile.get("charging_profile_purpose"))
        return call_result.SetChargingProfile(status="Accepted")

    @on("ClearChargingProfile")
    def on_clear_charging_profile(self, **p: Any) -> Any:
        self.station.answered("ClearChargingProfile", p)
        self.station.charging_profiles.clear()
        self.station.apply_limit(0, None)
        return call_result.ClearChargingProfile(status="Accepted")

    @on("ChangeAvailability")
    def on_change_availability(self, **p: Any) -> Any:
        self.station.answered("ChangeAvailability", p)
        number = int((p.get("evse") or {}).get("id", 0))
        if number and number not in self.station.evses:
            return call_result.ChangeAvailability(status="Rejected")
        busy = any(
            e.transaction is not None for n, e in self.station.evses.items() if number in (0, n)
        )
        return call_result.ChangeAvailability(status="Scheduled" if busy else "Accepted")

    @after("ChangeAvailability")
    def after_change_availability(self, **p: Any) -> None:
        number = int((p.get("evse") or {}).get("id", 0))
        if number == 0 or number in self.station.evses:
            self.station.set_operative(number, p["operational_status"] == "Operative")

    @on("GetVariables")
    def on_get_variables(self, **p: Any) -> Any:
        self.station.answered("GetVariables", p)
        results = []
        for item in p["get_variable_data"]:
            key = (item["component"]["name"], item["variable"]["name"])
            value = self.station.variables.get(key)
            result = {"component": item["component"], "variable": item["variable"]}
            if value is None:
                result["attribute_status"] = "UnknownVariable"
            else:
                result.update(attribute_status="Accepted", attribute_value=value)
            results.append(result)
        return call_result.GetVariables(get_variable_result=results)

    @on("SetVariables")
    def on_set_variables(self, **p: Any) -> Any:
        self.station.answered("SetVariables", p)
        results = [
            {
                "attribute_status": self.station.set_variable(
                    item["component"]["name"], item["variable"]["name"], item["attribute_value"]
                ),
                "component": item["component"],
                "variable": item["variable"],
            }
            for item in p["set_variable_data"]
        ]
        return call_result.SetVariables(set_variable_result=results)

    @on("UnlockConnector")
    def on_unlock_connector(self, **p: Any) -> Any:
        self.station.answered("UnlockConnector", p)
        ok = p["evse_id"] in self.station.evses
        return call_result.UnlockConnector(status="Unlocked" if ok else "UnknownConnector")

    @after("UnlockConnector")
    def after_unlock_connector(self, **p: Any) -> None:
        evse = self.station.evses.get(p["evse_id"])
        if evse is not None and evse.transaction is not None:
            self.station.end_transaction(evse.id, "unlock")
