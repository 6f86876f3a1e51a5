"""The OCPP 1.6 simulated charger: its frames and its answers to the Central System's CALLs."""

from typing import Any

from ocpp.v16 import ChargePoint, call, call_result
from websockets.asyncio.client import ClientConnection

from app.simulator import credentials, operations
from app.simulator.frames import STOP_REASONS_16, now_iso, sampled_values_16
from app.simulator.link import Outgoing, after, on
from app.simulator.model import EvseState, Sample, Transaction, profile_limit_w
from app.simulator.operations import OperationHandlers16
from app.simulator.reservations import ReservationHandlers16
from app.simulator.station import SimulatedStation

TRIGGERABLE = (
    "BootNotification",
    "Heartbeat",
    "StatusNotification",
    "MeterValues",
    "FirmwareStatusNotification",
    "DiagnosticsStatusNotification",
)
READ_ONLY = {"NumberOfConnectors", "SupportedFeatureProfiles"}


class SimulatedStation16(SimulatedStation):
    """A charger speaking OCPP 1.6-J; EVSE n is connector n."""

    protocol = "1.6"
    subprotocol = "ocpp1.6"
    STATUS = {
        "available": "Available", "preparing": "Preparing", "charging": "Charging",
        "finishing": "Finishing", "unavailable": "Unavailable",
    }  # fmt: skip

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.configuration: dict[str, str] = {
            "HeartbeatInterval": str(int(self.heartbeat_interval_s)),
            "MeterValueSampleInterval": str(int(self.meter_interval_s)),
            "MeterValuesSampledData": "Energy.Active.Import.Register,Power.Active.Import,"
            "Current.Import" + (",SoC" if self.dc else ""),
            "NumberOfConnectors": str(len(self.evses)),
            "AuthorizeRemoteTxRequests": "false",
            "LocalAuthorizeOffline": "true",
            "SupportedFeatureProfiles": "Core,RemoteTrigger,SmartCharging",
        }

    def _make_client(self, socket: ClientConnection) -> Any:
        return _Client16(self, socket)

    def _boot_request(self) -> Any:
        return call.BootNotification(
            charge_point_vendor="chargenet",
            charge_point_model="SimCharger",
            charge_point_serial_number=self.serial,
            firmware_version=self.firmware,
        )

    def _heartbeat_request(self) -> Any:
        return call.Heartbeat()

    def _status_request(self, evse_id: int, status: str) -> Any:
        return call.StatusNotification(
            connector_id=evse_id, error_code="NoError", status=status, timestamp=now_iso()
        )

    def _authorize_request(self, token: str) -> Any:
        return call.Authorize(id_tag=token)

    def _authorized(self, result: Any) -> bool:
        return bool(result.id_tag_info.get("status") == "Accepted")

    def _start_message(self, tx: Transaction, sample: Sample, trigger: str) -> Outgoing:
        payload = call.StartTransaction(
            connector_id=tx.evse_id, id_tag=tx.token, meter_start=sample.energy_wh,
            timestamp=now_iso(), reservation_id=tx.reservation_id,
        )  # fmt: skip

        def started(result: Any) -> None:
            tx.remote_id = int(result.transaction_id)
            if result.id_tag_info.get("status") != "Accepted":
                tx.rejected = True
                self.evses[tx.evse_id].wake.set()

        return Outgoing("StartTransaction", lambda: payload, started)

    def _meter_message(self, evse: EvseState, sample: Sample, context: str) -> Outgoing:
        tx, stamp = evse.transaction, now_iso()
        values = [{"timestamp": stamp, "sampled_value": sampled_values_16(sample, context)}]
        return Outgoing(
            "MeterValues",
            lambda: call.MeterValues(
                connector_id=evse.id,
                meter_value=values,
                transaction_id=tx.remote_id if tx is not None else None,
            ),
        )

    def _stop_message(self, tx: Transaction, sample: Sample, reason: str) -> Outgoing:
        stamp = now_iso()
        data = [{"timestamp": stamp, "sampled_value": sampled_values_16(sample, "Transaction.End")}]
        return Outgoing(
            "StopTransaction",
            lambda: call.StopTransaction(
                meter_stop=sample.energy_wh,
                timestamp=stamp,
                # -1 only if the start was never answered: the CSMS cannot match it anyway
                transaction_id=tx.remote_id if tx.remote_id is not None else -1,
                reason=STOP_REASONS_16.get(reason, "Other"),
                id_tag=tx.token,
                transaction_data=data,
            ),
        )

    async def trigger(self, message: str, evse_id: int | None) -> None:
        """Send what a TriggerMessage asked for."""
        evses = [evse_id] if evse_id else list(self.evses)
        if message == "BootNotification":
            await self.boot()
        elif message == "Heartbeat":
            await self.heartbeat()
        elif message == "StatusNotification":
            for number in evses:
                await self.send_status(number, self.evses[number].status)
        elif message == "MeterValues":
            for number in evses:
                self.queue_meter_values(number, "Trigger")
        elif message == "FirmwareStatusNotification":
            await operations.report_status(self, "firmware")
        elif message == "DiagnosticsStatusNotification":
            await operations.report_status(self, "upload")

    def change_configuration(self, key: str, value: str) -> str:
        if key == credentials.AUTHORIZATION_KEY:  # write-only: never in `configuration`
            return credentials.accept_password(self, value)
        if key not in self.configuration:
            return "NotSupported"
        if key in READ_ONLY:
            return "Rejected"
        if key in ("HeartbeatInterval", "MeterValueSampleInterval"):
            if not value.isdigit() or int(value) <= 0:
                return "Rejected"
            if key == "HeartbeatInterval":
                self.heartbeat_s = float(value)
            else:
                self.meter_interval_s = float(value)
        self.configuration[key] = value
        return "Accepted"


class _Client16(ReservationHandlers16, OperationHandlers16, ChargePoint):  # type: ignore[misc]
    """The `ocpp` ChargePoint on one connection; hands every CALL to its station."""

    def __init__(self, station: SimulatedStation16, socket: ClientConnection) -> None:
        super().__init__(station.station_id, socket, response_timeout=station.call_timeout_s)
        self.station = station

    @on("RemoteStartTransaction")
    def on_remote_start(self, **p: Any) -> Any:
        self.station.answered("RemoteStartTransaction", p)
        number = self.station.request_start(p.get("connector_id"), p["id_tag"], None)
        if number and p.get("charging_profile"):
            evse = self.station.evses[number]
            self.station.apply_limit(number, profile_limit_w(p["charging_profile"], evse))
        return call_result.RemoteStartTransaction(status="Accepted" if number else "Rejected")

    @on("RemoteStopTransaction")
    def on_remote_stop(self, **p: Any) -> Any:
        self.station.answered("RemoteStopTransaction", p)
        found = self.station.find_transaction(p["transaction_id"])
        return call_result.RemoteStopTransaction(status="Accepted" if found else "Rejected")

    @after("RemoteStopTransaction")
    def after_remote_stop(self, **p: Any) -> None:
        evse = self.station.find_transaction(p["transaction_id"])
        if evse is not None:
            self.station.end_transaction(evse.id, "remote")

    @on("Reset")
    def on_reset(self, **p: Any) -> Any:
        self.station.answered("Reset", p)
        return call_result.Reset(status="Accepted")

    @after("Reset")
    def after_reset(self, **p: Any) -> None:
        self.station.spawn(self.station.reset(hard=p.get("type") == "Hard"))

    @on("TriggerMessage")
    def on_trigger(self, **p: Any) -> Any:
        self.station.answered("TriggerMessage", p)
        ok = p["requested_message"] in TRIGGERABLE and p.get("connector_id", 1) in (
            0, *self.station.evses,
        )  # fmt: skip
        return call_result.TriggerMessage(status="Accepted" if ok else "NotImplemented")

    @after("TriggerMessage")
    def after_trigger(self, **p: Any) -> None:
        if p["requested_message"] in TRIGGERABLE:
            self.station.spawn(self.station.trigger(p["requested_message"], p.get("connector_id")))

    @on("SetChargingProfile")
    def on_set_charging_profile(self, **p: Any) -> Any:
        self.station.answered("SetChargingProfile", p)
        number, profile = int(p["connector_id"]), p["cs_charging_profiles"]
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
        number = int(p["connector_id"])
        if number and number not in self.station.evses:
            return call_result.ChangeAvailability(status="Rejected")
        busy = any(
            e.transaction is not None for n, e in self.station.evses.items() if number in (0, n)
        )
        return call_result.ChangeAvailability(status="Scheduled" if busy else "Accepted")

    @after("ChangeAvailability")
    def after_change_availability(self, **p: Any) -> None:
        number = int(p["connector_id"])
        if number == 0 or number in self.station.evses:
            self.station.set_operative(number, p["type"] == "Operative")

    @on("GetConfiguration")
    def on_get_configuration(self, **p: Any) -> Any:
        self.station.answered("GetConfiguration", p)
        config = self.station.configuration
        keys = p.get("key") or list(config)
        known = [
            {"key": k, "readonly": k in READ_ONLY, "value": config[k]} for k in keys if k in config
        ]
        unknown = [k for k in keys if k not in config]
        return call_result.GetConfiguration(configuration_key=known, unknown_key=unknown or None)

    @on("ChangeConfiguration")
    def on_change_configuration(self, **p: Any) -> Any:
        self.station.answered("ChangeConfiguration", p)
        status = self.station.change_configuration(p["key"], p["value"])
        return call_result.ChangeConfiguration(status=status)

    @on("UnlockConnector")
    def on_unlock_connector(self, **p: Any) -> Any:
        self.station.answered("UnlockConnector", p)
        ok = p["connector_id"] in self.station.evses
        return call_result.UnlockConnector(status="Unlocked" if ok else "NotSupported")

    @after("UnlockConnector")
    def after_unlock_connector(self, **p: Any) -> None:
        evse = self.station.evses.get(p["connector_id"])
        if evse is not None and evse.transaction is not None:
            self.station.end_transaction(evse.id, "unlock")
