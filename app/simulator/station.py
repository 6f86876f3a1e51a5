"""A simulated charger's run loop: connect, boot, heartbeats and random sessions on each EVSE."""

import asyncio
import logging
import time

from ocpp.exceptions import OCPPError

from app.simulator import reservations
from app.simulator.link import Outgoing
from app.simulator.model import EvseState, StartRequest, Transaction
from app.simulator.steps import LINK_ERRORS, StationSteps

log = logging.getLogger(__name__)

CHARGE_S = (900.0, 5400.0)  # simulated seconds a driver stays plugged in at most
UNPLUG_S = (5.0, 30.0)  # simulated seconds between the end of a session and the unplug
STATION_MAX_PURPOSES = frozenset({"ChargePointMaxProfile", "ChargingStationMaxProfile"})


class SimulatedStation(StationSteps):
    """One charger. `run()` drives it until cancelled: connect with backoff, boot (retrying while
    Pending or Rejected), statuses, heartbeats, and on every EVSE a cycle of idle → authorize →
    start → meter values → stop → available. The 1.6 and 2.0.1 subclasses add the wire format
    and the answers to the CSMS's CALLs, which reach the loop through `request_start`,
    `end_transaction`, `apply_limit` and `reset`.
    """

    _evse_tasks: tuple["asyncio.Task[None]", ...] = ()

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            self._evse_tasks = tuple(
                group.create_task(self._evse_loop(evse)) for evse in self.evses.values()
            )
            group.create_task(self._connection_loop())

    async def shutdown(self, timeout_s: float = 5.0) -> None:
        """Stop the EVSE loops, end every session (reason local) and wait, bounded, until the
        CSMS has the stops. The connection stays until `run()` is cancelled."""
        for task in self._evse_tasks:
            task.cancel()
        await asyncio.gather(*self._evse_tasks, return_exceptions=True)
        for evse in self.evses.values():
            if evse.transaction is not None:
                self.end_transaction(evse.id, "local")
        if self.online:
            try:
                async with asyncio.timeout(timeout_s):
                    await self.flush()
            except TimeoutError:
                log.warning("%s: %d messages unsent at shutdown", self.station_id, len(self.outbox))

    async def _connection_loop(self) -> None:
        backoff = self.reconnect_delay_s
        first = True
        while True:
            if not first:
                self.stats.reconnects += 1
            first = False
            try:
                async with self.connect():
                    await self._boot_until_accepted()
                    backoff = self.reconnect_delay_s
                    for evse in self.evses.values():
                        await self.send_status(evse.id, evse.status)
                    self.spawn(self._heartbeats())
                    await self.wait_closed()
            except LINK_ERRORS as exc:
                log.info(
                    "%s: connection lost (%r); retrying in %.1fs", self.station_id, exc, backoff
                )
            except Exception:  # a loop top: log it and keep the charger alive
                self.stats.errors += 1
                log.exception("%s: connection loop failed", self.station_id)
            await asyncio.sleep(backoff * self.rng.uniform(0.8, 1.2))
            backoff = min(backoff * 2, 60.0)

    async def _boot_until_accepted(self) -> None:
        """Pending/Rejected: retry after the interval the CSMS gave (OCPP B02/B03)."""
        while await self.boot() != "Accepted":  # noqa: ASYNC110 (a protocol timer, not a poll)
            await asyncio.sleep(max(1.0, self.heartbeat_interval_s))

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s or self.heartbeat_interval_s)
            try:
                await self.heartbeat()
            except (TimeoutError, OCPPError) as exc:
                self.stats.errors += 1
                log.warning("%s: heartbeat failed: %r", self.station_id, exc)

    async def _evse_loop(self, evse: EvseState) -> None:
        await self._accepted_once.wait()
        while True:
            try:
                await self._session(evse, await self._idle(evse))
            except Exception:  # a loop top: log it and keep the EVSE going
                self.stats.errors += 1
                log.exception("%s: EVSE %d failed", self.station_id, evse.id)
                await asyncio.sleep(1.0)

    async def _idle(self, evse: EvseState) -> StartRequest | None:
        """Wait a random idle time (forever while inoperative), or less for a remote start."""
        deadline = time.monotonic() + evse.rng.uniform(*self.idle_s) / self.time_scale
        while not evse.start_requests:
            remaining = deadline - time.monotonic()
            # a reserved EVSE waits for its driver's start (or the reservation's end)
            free = evse.operative and evse.reservation is None
            if remaining <= 0 and free:
                return None
            evse.wake.clear()
            try:
                async with asyncio.timeout(max(remaining, 0.0) if free else None):
                    await evse.wake.wait()
            except TimeoutError:
                pass
        return evse.start_requests.pop(0)

    async def _status(self, evse: EvseState, phase: str) -> None:
        if evse.status == self.STATUS[phase]:
            return  # 2.0.1 reports Occupied once for preparing, charging and finishing
        evse.status = self.STATUS[phase]
        if self.online:  # offline changes reach the CSMS with the statuses sent after boot
            try:
                await self.send_status(evse.id, evse.status)
            except (*LINK_ERRORS, OCPPError) as exc:
                log.info("%s: status not sent: %r", self.station_id, exc)

    async def _session(self, evse: EvseState, request: StartRequest | None) -> None:
        token = request.token if request else evse.rng.choice(self.id_tokens)
        await self._status(evse, "preparing")
        if request is None and self.online:
            try:
                accepted = await self.authorize(token)
            except LINK_ERRORS:
                accepted = True  # offline: local authorization (LocalAuthorizeOffline)
            if not accepted:
                await self._status(evse, "available")
                return
        remote_start_id = request.remote_start_id if request else None
        start = self.begin_transaction(evse.id, token, remote_start_id=remote_start_id)
        tx = evse.transaction
        assert tx is not None
        await self._answered(start)
        await self._status(evse, "charging")
        reason = await self._charge(evse, tx)
        if reason is not None:
            await self._answered(self.end_transaction(evse.id, reason))
        await self._status(evse, "finishing")
        await asyncio.sleep(evse.rng.uniform(*UNPLUG_S) / self.time_scale)
        evse.vehicle = None
        await self._status(evse, "available" if evse.operative else "unavailable")

    async def _answered(self, item: Outgoing) -> None:
        """Online, let the CSMS answer a start or stop before the status that follows it."""
        if self.online:
            await asyncio.wait([item.done], timeout=self.call_timeout_s)

    async def _charge(self, evse: EvseState, tx: Transaction) -> str | None:
        """Queue meter values until the driver leaves, the battery is full or the CSMS refused
        the token; returns why, or None if the session was ended from outside (remote, reset)."""
        deadline = time.monotonic() + evse.rng.uniform(*CHARGE_S) / self.time_scale
        while True:
            evse.wake.clear()
            if evse.transaction is not tx:
                return None
            if tx.rejected:
                return "deauthorized"
            if time.monotonic() >= deadline:
                return "local"
            if evse.vehicle is not None and evse.vehicle.energy_needed_wh <= 0:
                return "ev_disconnected"
            wait_s = min(self.meter_interval_s / self.time_scale, deadline - time.monotonic())
            try:
                async with asyncio.timeout(max(wait_s, 0.0)):
                    await evse.wake.wait()
                continue
            except TimeoutError:
                pass
            self.queue_meter_values(evse.id)

    def request_start(self, evse_id: int | None, token: str, remote_start_id: int | None) -> int:
        """Take a remote start for a free EVSE (any, if None); returns its number or 0."""
        for number in [evse_id] if evse_id else list(self.evses):
            evse = self.evses.get(number)
            if evse is None or not evse.operative or evse.start_requests:
                continue
            if not reservations.may_start(evse, token):
                continue
            if evse.transaction is None and evse.vehicle is None:  # free, not finishing
                evse.start_requests.append(StartRequest(token, remote_start_id))
                evse.wake.set()
                return number
        return 0

    def find_transaction(self, transaction_id: str | int) -> EvseState | None:
        for evse in self.evses.values():
            tx = evse.transaction
            if tx is not None and str(transaction_id) in (tx.local_id, str(tx.remote_id)):
                return evse
        return None

    def apply_limit(
        self, evse_id: int, profile_limit_w: float | None, purpose: str | None = None
    ) -> None:
        """Obey a charging profile: per EVSE, or for the station (0) shared equally.

        On an EVSE a TxProfile rules its session; a TxDefaultProfile applies only where no
        TxProfile is in force, and again once the session (and its TxProfile) ends. A
        station-max profile caps the others and changes none of them.
        """
        if purpose in STATION_MAX_PURPOSES:
            for evse in self.evses.values():
                evse.station_max_w = profile_limit_w
                evse.set_limit(evse.limit_w, time_scale=self.time_scale)
            return
        if evse_id:
            evse = self.evses[evse_id]
            if purpose == "TxDefaultProfile":
                evse.default_limit_w = profile_limit_w
                if evse.transaction is not None and evse.tx_limit_w is not None:
                    return
            elif purpose == "TxProfile":
                evse.tx_limit_w = profile_limit_w
            evse.set_limit(profile_limit_w, time_scale=self.time_scale)
            return
        share = None if profile_limit_w is None else profile_limit_w / len(self.evses)
        for evse in self.evses.values():
            if profile_limit_w is None:  # ClearChargingProfile
                evse.tx_limit_w = evse.default_limit_w = evse.station_max_w = None
            evse.set_limit(share, time_scale=self.time_scale)

    def set_operative(self, evse_id: int, operative: bool) -> bool:
        """ChangeAvailability; returns False if a session delays it (answer Scheduled)."""
        targets = [self.evses[evse_id]] if evse_id else list(self.evses.values())
        busy = False
        for evse in targets:
            evse.operative = operative
            evse.wake.set()
            busy = busy or evse.transaction is not None
            if evse.transaction is None and evse.vehicle is None:
                self.spawn(self._status(evse, "available" if operative else "unavailable"))
        return not busy

    async def reset(self, *, hard: bool) -> None:
        """Reboot: end sessions, hand their stops to the CSMS (bounded), close the socket."""
        for evse in self.evses.values():
            if evse.transaction is not None:
                self.end_transaction(evse.id, "hard_reset" if hard else "reset")
        try:
            async with asyncio.timeout(self.call_timeout_s):
                await self.flush()
        finally:
            await self.close()
