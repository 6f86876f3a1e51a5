"""The single steps of a simulated charger (boot, status, authorize, transactions), any version."""

import asyncio
import logging
import random
from collections import deque
from collections.abc import Sequence
from typing import Any, ClassVar

from websockets.exceptions import ConnectionClosed, InvalidHandshake

from app.simulator.link import NotConnectedError, Outgoing, StationLink
from app.simulator.model import EvseState, OperationsState, Sample, Transaction, Vehicle

log = logging.getLogger(__name__)

LINK_ERRORS = (OSError, ConnectionClosed, InvalidHandshake, TimeoutError, NotConnectedError)


class StationSteps(StationLink):
    """One charger: `run()` drives it forever; tests may instead drive it step by step inside
    `async with station.connect():` with `boot()`, `send_status()`, `authorize()`,
    `start_transaction()`, `send_meter_values()` and `stop_transaction()`.

    EVSE numbers are 1-based (1.6 connector ids). Statuses passed to `send_status` are the
    protocol's own strings ("Preparing" in 1.6, "Occupied" in 2.0.1).
    """

    protocol: ClassVar[str]
    # phase of a session -> the protocol's status string
    STATUS: ClassVar[dict[str, str]]

    def __init__(
        self,
        *,
        url: str,
        station_id: str,
        password: str | None = None,
        id_tokens: Sequence[str] = ("SIMTOKEN01",),
        evses: int = 2,
        dc: bool = False,
        seed: int = 0,
        heartbeat_s: float | None = None,
        meter_interval_s: float = 10.0,
        time_scale: float = 1.0,
        reconnect_delay_s: float = 1.0,
        idle_s: tuple[float, float] = (60.0, 900.0),
        **link: Any,
    ) -> None:
        super().__init__(url=url, station_id=station_id, password=password, **link)
        self.id_tokens = tuple(id_tokens)
        self.dc = dc
        self.heartbeat_s = heartbeat_s
        self.meter_interval_s = meter_interval_s
        self.time_scale = time_scale
        self.reconnect_delay_s = reconnect_delay_s
        self.idle_s = idle_s  # simulated seconds an EVSE stays free between sessions
        self.rng = random.Random(f"{seed}:{station_id}")
        self.serial = f"SN-{self.rng.randrange(10**8):08d}"
        self.firmware = "1.4.2"
        self.evses = {
            n: EvseState(
                id=n,
                rng=random.Random(f"{seed}:{station_id}:{n}"),
                dc=dc,
                max_power_w=50_000.0 if dc else 22_000.0,
                energy_wh=float(self.rng.randrange(100_000, 5_000_000)),
            )
            for n in range(1, evses + 1)
        }
        self.boot_status: str | None = None
        self.heartbeat_interval_s: float = 60.0
        self.charging_profiles: list[tuple[int, dict[str, Any]]] = []  # (evse id or 0, profile)
        self.received: deque[tuple[str, dict[str, Any]]] = deque(maxlen=200)  # CSMS CALLs
        self._accepted_once = asyncio.Event()
        self.operations = OperationsState()

    # -- the protocol-specific pieces ------------------------------------------------------

    def _boot_request(self) -> Any:
        raise NotImplementedError

    def _heartbeat_request(self) -> Any:
        raise NotImplementedError

    def _status_request(self, evse_id: int, status: str) -> Any:
        raise NotImplementedError

    def _authorize_request(self, token: str) -> Any:
        raise NotImplementedError

    def _authorized(self, result: Any) -> bool:
        raise NotImplementedError

    def _start_message(self, tx: Transaction, sample: Sample, trigger: str) -> Outgoing:
        raise NotImplementedError

    def _meter_message(self, evse: EvseState, sample: Sample, context: str) -> Outgoing:
        raise NotImplementedError

    def _stop_message(self, tx: Transaction, sample: Sample, reason: str) -> Outgoing:
        raise NotImplementedError

    # -- steps -------------------------------------------------------------------------------

    def answered(self, action: str, payload: dict[str, Any]) -> None:
        """Record a CALL from the CSMS (handlers call this first)."""
        self.stats.calls_answered += 1
        self.received.append((action, payload))

    async def boot(self) -> str:
        """BootNotification; returns the registration status and adopts the server's interval."""
        result = await self.call(self._boot_request())
        self.stats.boots += 1
        self.boot_status = str(result.status)
        if result.interval and result.interval > 0:
            self.heartbeat_interval_s = float(result.interval)
        if self.boot_status == "Accepted":
            self._online.set()
            self._accepted_once.set()
            report, self.operations.report_after_boot = self.operations.report_after_boot, None
            if report is not None:
                self.spawn(report())
        return self.boot_status

    async def heartbeat(self) -> str:
        result = await self.call(self._heartbeat_request())
        return str(result.current_time)

    async def send_status(self, evse_id: int, status: str) -> None:
        self.evses[evse_id].status = status
        await self.call(self._status_request(evse_id, status))

    async def authorize(self, token: str) -> bool:
        return self._authorized(await self.call(self._authorize_request(token)))

    def begin_transaction(
        self, evse_id: int, token: str, *, remote_start_id: int | None = None
    ) -> Outgoing:
        """Plug in a vehicle and queue the start message (sent when online, in order)."""
        evse = self.evses[evse_id]
        if evse.transaction is not None:
            raise RuntimeError(f"EVSE {evse_id} of {self.station_id} is already charging")
        evse.advance(time_scale=self.time_scale)
        tx = Transaction(
            local_id=f"{self.station_id}-{evse_id}-{evse.rng.getrandbits(40):010x}",
            evse_id=evse_id,
            token=token,
            meter_start_wh=int(evse.energy_wh),
            remote_start_id=remote_start_id,
        )
        held = evse.reservation
        if held is not None and held.token.lower() == token.lower():
            tx.reservation_id, evse.reservation = held.id, None  # the session uses it up
        evse.vehicle = Vehicle.random(evse.rng, dc=evse.dc)
        evse.transaction = tx
        evse.stop_reason = None
        evse.advance(time_scale=self.time_scale)  # the power the new vehicle draws
        self.stats.transactions_started += 1
        trigger = "RemoteStart" if remote_start_id is not None else "Authorized"
        return self.enqueue(self._start_message(tx, evse.sample(), trigger))

    def end_transaction(self, evse_id: int, reason: str = "local") -> Outgoing:
        """End the session and queue the stop message. Reasons are neutral: local, remote,
        ev_disconnected, deauthorized, reset, hard_reset, unlock, other."""
        evse = self.evses[evse_id]
        tx = evse.transaction
        if tx is None:
            raise RuntimeError(f"EVSE {evse_id} of {self.station_id} has no transaction")
        evse.advance(time_scale=self.time_scale)
        evse.transaction = None
        evse.power_w = 0.0
        if evse.tx_limit_w is not None:  # a TxProfile ends with its transaction
            evse.tx_limit_w, evse.limit_w = None, evse.default_limit_w
        tx.stop_reason = reason
        tx.meter_stop_wh = int(evse.energy_wh)
        self.stats.transactions_stopped += 1
        self.stats.energy_wh += tx.meter_stop_wh - tx.meter_start_wh
        evse.wake.set()  # the EVSE's loop, if any, sees the session is over
        return self.enqueue(self._stop_message(tx, evse.sample(), reason))

    def queue_meter_values(self, evse_id: int, context: str = "Sample.Periodic") -> Outgoing:
        evse = self.evses[evse_id]
        evse.advance(time_scale=self.time_scale)
        return self.enqueue(self._meter_message(evse, evse.sample(), context))

    async def start_transaction(
        self, evse_id: int, token: str, *, remote_start_id: int | None = None
    ) -> Transaction:
        """Start a session and return once the CSMS answered (1.6: `remote_id` is then set)."""
        item = self.begin_transaction(evse_id, token, remote_start_id=remote_start_id)
        tx = self.evses[evse_id].transaction
        assert tx is not None
        await item.done
        return tx

    async def send_meter_values(self, evse_id: int) -> Sample:
        item = self.queue_meter_values(evse_id)
        sample = self.evses[evse_id].sample()
        await item.done
        return sample

    async def stop_transaction(self, evse_id: int, reason: str = "local") -> Transaction:
        tx = self.evses[evse_id].transaction
        await self.end_transaction(evse_id, reason).done
        assert tx is not None
        return tx
