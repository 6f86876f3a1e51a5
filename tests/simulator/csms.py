"""A tiny central system for simulator tests: the `ocpp` package's server side on 127.0.0.1."""

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint as ChargePoint16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as ChargePoint201
from ocpp.v201 import call_result as result201
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class Frame:
    """A CALL the central system received, as it was on the wire (camelCase payload)."""

    station_id: str
    action: str
    payload: dict[str, Any]


@dataclass
class RecordingCsms:
    """Answers every charger CALL (boot status configurable) and records it; sends CALLs."""

    boot_statuses: list[str] = field(default_factory=lambda: ["Accepted"])
    interval: int = 60
    frames: list[Frame] = field(default_factory=list)
    auth_headers: dict[str, str] = field(default_factory=dict)
    connections: dict[str, Any] = field(default_factory=dict)
    port: int = 0
    _sockets: dict[str, ServerConnection] = field(default_factory=dict)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _tx_ids: "itertools.count[int]" = field(default_factory=lambda: itertools.count(100))

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp"

    def boot_status(self) -> str:
        return self.boot_statuses.pop(0) if len(self.boot_statuses) > 1 else self.boot_statuses[0]

    def next_transaction_id(self) -> int:
        return next(self._tx_ids)

    async def record(self, station_id: str, raw: str | bytes) -> None:
        message = json.loads(raw)
        if message[0] == 2:
            async with self._changed:
                self.frames.append(Frame(station_id, message[2], message[3]))
                self._changed.notify_all()

    async def wait_for(
        self, predicate: Callable[[list[Frame]], Any], within_s: float = 10.0
    ) -> Any:
        """Wait (bounded) until `predicate(frames)` is truthy; return its value."""
        async with asyncio.timeout(within_s), self._changed:
            await self._changed.wait_for(lambda: predicate(self.frames))
            return predicate(self.frames)

    def of(self, action: str, station_id: str | None = None) -> list[dict[str, Any]]:
        return [
            f.payload
            for f in self.frames
            if f.action == action and station_id in (None, f.station_id)
        ]

    async def call(self, station_id: str, payload: Any) -> Any:
        return await self.connections[station_id].call(payload)

    async def drop(self, station_id: str) -> None:
        await self._sockets[station_id].close()

    async def _handle(self, socket: ServerConnection) -> None:
        assert socket.request is not None
        station_id = socket.request.path.rsplit("/", 1)[-1]
        self.auth_headers[station_id] = socket.request.headers.get("Authorization", "")
        cls = _Csms16 if socket.subprotocol == "ocpp1.6" else _Csms201
        point = cls(station_id, socket, self)
        self.connections[station_id] = point
        self._sockets[station_id] = socket
        with suppress(ConnectionClosed):
            await point.start()


@asynccontextmanager
async def running_csms(**options: Any) -> AsyncIterator[RecordingCsms]:
    csms = RecordingCsms(**options)
    protocols = [Subprotocol("ocpp2.0.1"), Subprotocol("ocpp1.6")]
    async with serve(csms._handle, "127.0.0.1", 0, subprotocols=protocols) as server:
        csms.port = next(iter(server.sockets)).getsockname()[1]
        yield csms


class _Recording:
    csms: RecordingCsms
    id: str

    async def route_message(self, raw_msg: str) -> None:
        await self.csms.record(self.id, raw_msg)
        await super().route_message(raw_msg)  # type: ignore[misc]


class _Csms16(_Recording, ChargePoint16):
    def __init__(self, station_id: str, socket: ServerConnection, csms: RecordingCsms) -> None:
        super().__init__(station_id, socket, response_timeout=5)
        self.csms = csms

    @on("BootNotification")
    def on_boot(self, **_: Any) -> Any:
        status = self.csms.boot_status()
        return result16.BootNotification(_now(), self.csms.interval, status)

    @on("Heartbeat")
    def on_heartbeat(self) -> Any:
        return result16.Heartbeat(current_time=_now())

    @on("StatusNotification")
    def on_status(self, **_: Any) -> Any:
        return result16.StatusNotification()

    @on("Authorize")
    def on_authorize(self, id_tag: str) -> Any:
        status = "Invalid" if id_tag.startswith("BAD") else "Accepted"
        return result16.Authorize(id_tag_info={"status": status})

    @on("StartTransaction")
    def on_start(self, **_: Any) -> Any:
        return result16.StartTransaction(
            transaction_id=self.csms.next_transaction_id(), id_tag_info={"status": "Accepted"}
        )

    @on("MeterValues")
    def on_meter_values(self, **_: Any) -> Any:
        return result16.MeterValues()

    @on("StopTransaction")
    def on_stop(self, **_: Any) -> Any:
        return result16.StopTransaction(id_tag_info={"status": "Accepted"})


class _Csms201(_Recording, ChargePoint201):
    def __init__(self, station_id: str, socket: ServerConnection, csms: RecordingCsms) -> None:
        super().__init__(station_id, socket, response_timeout=5)
        self.csms = csms

    @on("BootNotification")
    def on_boot(self, **_: Any) -> Any:
        status = self.csms.boot_status()
        return result201.BootNotification(_now(), self.csms.interval, status)

    @on("Heartbeat")
    def on_heartbeat(self) -> Any:
        return result201.Heartbeat(current_time=_now())

    @on("StatusNotification")
    def on_status(self, **_: Any) -> Any:
        return result201.StatusNotification()

    @on("Authorize")
    def on_authorize(self, id_token: dict[str, Any], **_: Any) -> Any:
        status = "Invalid" if id_token["id_token"].startswith("BAD") else "Accepted"
        return result201.Authorize(id_token_info={"status": status})

    @on("TransactionEvent")
    def on_transaction_event(self, event_type: str, **_: Any) -> Any:
        if event_type == "Started":
            return result201.TransactionEvent(id_token_info={"status": "Accepted"})
        return result201.TransactionEvent()

    @on("MeterValues")
    def on_meter_values(self, **_: Any) -> Any:
        return result201.MeterValues()


def measurands(payload: dict[str, Any]) -> dict[str, float]:
    """Measurand -> value of the last sample in a frame's meterValue / transactionData."""
    values: dict[str, float] = {}
    for meter_value in payload.get("meterValue") or payload.get("transactionData") or []:
        for sampled in meter_value["sampledValue"]:
            values[sampled.get("measurand", "Energy.Active.Import.Register")] = float(
                sampled["value"]
            )
    return values


def tx_key(payload: dict[str, Any]) -> Any:
    """The transaction a frame belongs to: 1.6 transactionId, 2.0.1 transactionInfo's id."""
    return payload.get("transactionId") or payload.get("transactionInfo", {}).get("transactionId")


def meter_frames(
    csms: RecordingCsms, station_id: str, transaction: Any = None
) -> list[dict[str, Any]]:
    """Periodic samples during a transaction, whichever the version (1.6 or 2.0.1)."""
    return [
        f.payload
        for f in csms.frames
        if f.station_id == station_id
        and transaction in (None, tx_key(f.payload))
        and (
            f.action == "MeterValues"
            or (f.action == "TransactionEvent" and f.payload["eventType"] == "Updated")
        )
    ]


def tx_frames(csms: RecordingCsms, station_id: str, event: str) -> list[dict[str, Any]]:
    """Start ("Started") or stop ("Ended") frames, whichever the version."""
    action16 = {"Started": "StartTransaction", "Ended": "StopTransaction"}[event]
    return [
        f.payload
        for f in csms.frames
        if f.station_id == station_id
        and (
            f.action == action16
            or (f.action == "TransactionEvent" and f.payload["eventType"] == event)
        )
    ]
