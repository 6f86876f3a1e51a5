"""A light OCPP 1.6 station for load: raw `websockets` and `json`, one call in flight at a time.

It replays what a charger does (boot, status, heartbeats, transactions with meter values) on
a compressed clock: each MeterValues moves the station's clock 15 s, so a bench of seconds
sends hours of sessions. Calls the server makes (charging profiles) are answered Accepted.
"""

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

SAMPLE_STEP = timedelta(seconds=15)
POWER_W = 7_000

Call = tuple[str, dict[str, Any]]  # an OCPP CALL's action and payload


@dataclass
class Tally:
    """What all stations of one phase did: answered calls, their latencies, and by action."""

    latencies_s: list[float] = field(default_factory=list)
    calls: int = 0
    errors: int = 0
    meter_values: int = 0
    connect_retries: int = 0  # handshakes refused or timed out, tried again after a back-off
    by_action: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)

    def reset(self) -> None:
        self.latencies_s.clear()
        self.calls = self.errors = self.meter_values = self.connect_retries = 0
        self.by_action.clear()
        self.error_samples.clear()


class SessionScript:
    """What a charger sends, as OCPP 1.6 CALLs built on its compressed clock: boot, status,
    and sessions of StartTransaction, MeterValues (each 15 s later, the register 15 s of
    POWER_W higher) and StopTransaction. Sending them is the subclass's: over a socket
    (`Station`) or to the handlers directly (bench/ocpp_cpu.py)."""

    def __init__(self, *, id_tag: str, clock_start: datetime) -> None:
        self._id_tag = id_tag
        self._clock = clock_start
        self._register_wh = 0
        self._transaction: int | None = None

    def _stamp(self) -> str:
        return self._clock.isoformat().replace("+00:00", "Z")

    def boot_notification(self) -> Call:
        return "BootNotification", {"chargePointVendor": "chargenet", "chargePointModel": "bench"}

    def status_notification(self, connector: int, status: str) -> Call:
        return "StatusNotification", {
            "connectorId": connector,
            "errorCode": "NoError",
            "status": status,
            "timestamp": self._stamp(),
        }

    def start_transaction(self) -> Call:
        return "StartTransaction", {
            "connectorId": 1,
            "idTag": self._id_tag,
            "meterStart": self._register_wh,
            "timestamp": self._stamp(),
        }

    def started(self, answer: dict[str, Any]) -> None:
        """Keep the transaction id of StartTransaction's `answer` for the session's calls."""
        self._transaction = int(answer.get("transactionId", 0))

    def meter_values(self) -> Call:
        self._clock += SAMPLE_STEP
        self._register_wh += POWER_W * 15 // 3600
        sampled = [
            {
                "value": str(self._register_wh),
                "measurand": "Energy.Active.Import.Register",
                "unit": "Wh",
            },
            {"value": str(POWER_W), "measurand": "Power.Active.Import", "unit": "W"},
        ]
        return "MeterValues", {
            "connectorId": 1,
            "transactionId": self._transaction,
            "meterValue": [{"timestamp": self._stamp(), "sampledValue": sampled}],
        }

    def stop_transaction(self) -> Call:
        """StopTransaction a second after the last call; the session ends and the clock moves
        another second, for the status that follows."""
        self._clock += timedelta(seconds=1)
        call = (
            "StopTransaction",
            {
                "transactionId": self._transaction,
                "meterStop": self._register_wh,
                "timestamp": self._stamp(),
                "reason": "EVDisconnected",
            },
        )
        self._transaction = None
        self._clock += timedelta(seconds=1)
        return call


class Station(SessionScript):
    """One simulated charger. `run(until)` drives its script until the monotonic deadline."""

    def __init__(
        self,
        url: str,
        station_id: str,
        *,
        auth: str | None,
        id_tag: str,
        tally: Tally,
        meters_per_session: int,
        clock_start: datetime,
    ) -> None:
        super().__init__(id_tag=id_tag, clock_start=clock_start)
        self.url = f"{url}/{station_id}"
        self.station_id = station_id
        self._auth = auth
        self.tally = tally
        self._meters_per_session = meters_per_session
        self._ids = itertools.count(1)
        self._ws: ClientConnection | None = None
        self._meters_left = 0
        self._last_heartbeat = 0.0

    async def connect(self, open_timeout_s: float = 120.0) -> None:
        headers = {"Authorization": self._auth} if self._auth else None
        self._ws = await connect(
            self.url,
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            additional_headers=headers,
            open_timeout=open_timeout_s,
            ping_interval=None,
            max_queue=16,
            compression=None,
        )

    async def close(self) -> None:
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        assert self._ws is not None
        unique_id = f"{next(self._ids)}"
        frame = json.dumps([2, unique_id, action, payload], separators=(",", ":"))
        started = time.perf_counter()
        await self._ws.send(frame)
        while True:
            message = json.loads(await self._ws.recv())
            if message[0] == 2:  # the server calls us (a profile, a trigger): accept it
                answer = [3, message[1], {"status": "Accepted"}]
                await self._ws.send(json.dumps(answer, separators=(",", ":")))
                continue
            if message[1] == unique_id:
                break
        self.tally.latencies_s.append(time.perf_counter() - started)
        self.tally.calls += 1
        self.tally.by_action[action] = self.tally.by_action.get(action, 0) + 1
        if message[0] != 3:
            self.tally.errors += 1
            if len(self.tally.error_samples) < 3:
                self.tally.error_samples.append(f"{action}: {message[2:4]}")
            return {}
        result: dict[str, Any] = message[2]
        return result

    async def boot(self) -> None:
        await self.call(*self.boot_notification())
        for connector in (0, 1):
            await self.status(connector, "Available")

    async def status(self, connector: int, status: str) -> None:
        await self.call(*self.status_notification(connector, status))

    async def _step(self) -> None:
        """One message of the script (or a short burst around a session start/stop)."""
        if self._transaction is None:
            await self.status(1, "Preparing")
            self.started(await self.call(*self.start_transaction()))
            self._meters_left = self._meters_per_session
            await self.status(1, "Charging")
            return
        if self._meters_left > 0:
            await self.call(*self.meter_values())
            self.tally.meter_values += 1
            self._meters_left -= 1
            return
        await self.call(*self.stop_transaction())
        await self.status(1, "Available")

    async def run(
        self,
        until: float,
        *,
        interval_s: float = 0.0,
        heartbeat_s: float = 0.0,
        offset_s: float = 0.0,
    ) -> None:
        """Drive the script until `until` (time.monotonic). `interval_s` 0: back to back
        (saturation); else one step per interval (a paced, realistic rate), the first after
        `offset_s`."""
        if offset_s > 0:
            await asyncio.sleep(min(offset_s, max(0.0, until - time.monotonic())))
        while time.monotonic() < until:
            began = time.monotonic()
            if heartbeat_s and began - self._last_heartbeat >= heartbeat_s:
                self._last_heartbeat = began
                await self.call("Heartbeat", {})
            await self._step()
            if interval_s:
                rest = interval_s - (time.monotonic() - began)
                if rest > 0:
                    await asyncio.sleep(min(rest, max(0.0, until - time.monotonic())))


def clock_origin() -> datetime:
    """Two days back: a compressed clock running from there stays in the past for a long run."""
    return datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
