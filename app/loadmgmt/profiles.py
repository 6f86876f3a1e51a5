"""Charging profiles out to stations, and what each station is known to hold."""

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.domain.commands import CommandOutcome, CommandStatus, SetChargingLimit
from app.domain.errors import DomainError
from app.loadmgmt.ahead import Schedule
from app.services.capacity_compiler import CompiledSite
from app.services.capacity_state import ActiveSession
from app.services.ports import StationCommander

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Held:
    session_id: int
    limit_a: float
    #: The TxProfile's schedule (the limit, then each coming drop below it), if it had one.
    plan: Schedule | None = None


class ProfileSender:
    """Sends station-max profiles, TxDefaultProfiles and TxProfiles and remembers the answers.

    `held`: the TxProfile each EVSE's station accepted for its session; `defaults`: the limit
    its accepted TxDefaultProfile sets now (`default_plans`: that profile's schedule);
    `station_max`: the station-max schedule each station accepted; `refused`: EVSEs whose
    station refused a profile, with the current they are assumed to keep drawing and when to
    try them again.
    """

    def __init__(
        self, *, commander: StationCommander, timeout_s: float, retry_after_s: float
    ) -> None:
        self.commander = commander
        self.timeout_s = timeout_s
        self.retry_after_s = retry_after_s
        self.held: dict[int, Held] = {}
        self.defaults: dict[int, float] = {}
        self.default_plans: dict[int, Schedule] = {}
        self.station_max: dict[str, Schedule] = {}
        self.refused: dict[int, tuple[float, datetime]] = {}

    def forget(self, evse_id: int) -> None:
        """The station rebooted: it may have lost both profiles."""
        self.defaults.pop(evse_id, None)
        self.default_plans.pop(evse_id, None)
        self.held.pop(evse_id, None)

    def forget_station(self, station_id: str) -> None:
        self.station_max.pop(station_id, None)

    def tick(self, now: datetime) -> None:
        """Stations follow their default schedules on their own: track the limit now."""
        for evse_id, plan in self.default_plans.items():
            self.defaults[evse_id] = plan.at(now)

    def moved_plans(self, plans: Mapping[int, Schedule], now: datetime) -> set[int]:
        """EVSEs whose accepted TxProfile schedule differs from `plans` from now on."""
        moved = set()
        for evse_id, plan in plans.items():
            held = self.held.get(evse_id)
            if held is not None:
                was = held.plan or Schedule(((now, held.limit_a),))
                if was.seen_from(now) != plan.seen_from(now):
                    moved.add(evse_id)
        return moved

    def held_a(self, evse_id: int) -> float | None:
        held = self.held.get(evse_id)
        return held.limit_a if held else None

    async def _send(self, station_id: str, command: SetChargingLimit) -> CommandOutcome:
        try:
            return await self.commander.send(station_id, command, timeout_s=self.timeout_s)
        except DomainError as exc:  # not connected any more, or a command it cannot carry
            return CommandOutcome(CommandStatus.FAILED, {"error": str(exc)})

    async def send_station_max(
        self, plans: Mapping[str, tuple[Schedule, int]], online: set[str], now: datetime
    ) -> bool:
        """Each online station's max schedule where it moved; False if one was not accepted."""
        due = {
            s: plan
            for s, plan in plans.items()
            if s in online
            and (
                s not in self.station_max
                or self.station_max[s].seen_from(now) != plan[0].seen_from(now)
            )
        }
        outcomes = await asyncio.gather(
            *(
                self._send(s, _scheduled(0, plan, phases, now, station_max=True))
                for s, (plan, phases) in due.items()
            )
        )
        ok = True
        for (station_id, (plan, _)), outcome in zip(due.items(), outcomes, strict=True):
            if outcome.status == CommandStatus.ACCEPTED:
                self.station_max[station_id] = plan
            else:
                ok = False
                log.warning("station-max profile of %s refused: %s", station_id, outcome)
        return ok

    async def send_defaults(
        self,
        site: CompiledSite,
        plans: Mapping[int, Schedule],
        addresses: Mapping[int, tuple[str, int]],
        online: set[str],
        now: datetime,
    ) -> bool:
        """Each online EVSE's default schedule where it moved; False if one was not accepted."""
        due = {
            e: plan
            for e, plan in plans.items()
            if addresses[e][0] in online
            and (
                e not in self.default_plans
                or self.default_plans[e].seen_from(now) != plan.seen_from(now)
            )
        }
        outcomes = await asyncio.gather(
            *(
                self._send(
                    addresses[e][0],
                    _scheduled(addresses[e][1], plan, site.evses[e].number_phases, now),
                )
                for e, plan in due.items()
            )
        )
        ok = True
        for (evse_id, plan), outcome in zip(due.items(), outcomes, strict=True):
            if outcome.status == CommandStatus.ACCEPTED:
                self.default_plans[evse_id] = plan
                self.defaults[evse_id] = plan.at(now)
            else:
                ok = False
                log.warning("default profile of EVSE %s refused: %s", evse_id, outcome)
        return ok

    async def send_limits(
        self,
        to_send: dict[int, float],
        sessions: Mapping[int, ActiveSession],
        site: CompiledSite,
        now: datetime,
        plans: Mapping[int, Schedule] | None = None,
    ) -> dict[int, str]:
        """TxProfiles; `plans` (from `tx_plan`) carry the coming drops of each EVSE's limit."""
        plans = plans or {}
        outcomes = await asyncio.gather(
            *(
                self._send(
                    sessions[e].station_id,
                    SetChargingLimit(
                        ocpp_evse_id=sessions[e].ocpp_evse_id,
                        limit_a=amps,
                        transaction_id=sessions[e].transaction_id,
                        number_phases=site.evses[e].number_phases,
                        starts_at=now if e in plans and plans[e].later_periods(now) else None,
                        later_periods=plans[e].later_periods(now) if e in plans else (),
                    ),
                )
                for e, amps in to_send.items()
            )
        )
        statuses: dict[int, str] = {}
        retry_at = now + timedelta(seconds=self.retry_after_s)
        for (evse_id, amps), outcome in zip(to_send.items(), outcomes, strict=True):
            statuses[evse_id] = outcome.status.value
            if outcome.status == CommandStatus.ACCEPTED:
                self.held[evse_id] = Held(sessions[evse_id].session_id, amps, plans.get(evse_id))
                self.refused.pop(evse_id, None)
                continue
            # It keeps drawing what it last accepted: its TxProfile, else its default, else max.
            held = self.held.get(evse_id)
            index = site.network.index[str(evse_id)]
            assumed = (
                held.limit_a if held else self.defaults.get(evse_id, site.network.max_on_a[index])
            )
            self.refused[evse_id] = (assumed, retry_at)
            log.warning("charging limit %.1f A for EVSE %s refused: %s", amps, evse_id, outcome)
        return statuses


def _scheduled(
    ocpp_evse_id: int, plan: Schedule, phases: int, now: datetime, *, station_max: bool = False
) -> SetChargingLimit:
    """One profile carrying the schedule: relative while the limit stays, else absolute from
    now with a period at each change, so the station follows it without the backend."""
    later = plan.later_periods(now)
    return SetChargingLimit(
        ocpp_evse_id=ocpp_evse_id, limit_a=plan.at(now), number_phases=phases,
        station_max=station_max, starts_at=now if later or station_max else None,
        later_periods=later,
    )  # fmt: skip
