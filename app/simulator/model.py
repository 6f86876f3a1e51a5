"""The electrical model of one EVSE: a plugged-in vehicle, power under limits, a monotonic meter."""

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

AC_VOLTAGE_V = 230.0
DC_VOLTAGE_V = 400.0


@dataclass
class Vehicle:
    """What is plugged in: battery size, state of charge and the most it accepts."""

    capacity_wh: float
    soc_percent: float
    target_soc_percent: float
    max_power_w: float

    @classmethod
    def random(cls, rng: random.Random, *, dc: bool) -> "Vehicle":
        return cls(
            capacity_wh=rng.choice((40_000.0, 58_000.0, 77_000.0, 95_000.0)),
            soc_percent=rng.uniform(10, 60),
            target_soc_percent=rng.uniform(80, 100),
            max_power_w=rng.choice((50_000.0, 120_000.0, 150_000.0))
            if dc
            else rng.choice((7_400.0, 11_000.0, 22_000.0)),
        )

    @property
    def energy_needed_wh(self) -> float:
        return max(0.0, (self.target_soc_percent - self.soc_percent) / 100 * self.capacity_wh)


@dataclass
class StartRequest:
    """A remote start the CSMS asked for, waiting for its EVSE's loop to pick it up."""

    token: str
    remote_start_id: int | None = None


@dataclass
class Hold:
    """A reservation the CSMS made on an EVSE (ReserveNow): only `token` may start there."""

    id: int
    token: str
    expires_at: datetime


@dataclass
class Transaction:
    """One charging session on an EVSE, as the charger knows it."""

    local_id: str  # 2.0.1 transaction id (the charger assigns it)
    evse_id: int
    token: str
    meter_start_wh: int
    remote_start_id: int | None = None
    remote_id: int | None = None  # 1.6: the id the CSMS returns in StartTransaction.conf
    reservation_id: int | None = None  # the reservation this session used up
    seq_no: int = 0  # 2.0.1 TransactionEvent sequence number
    rejected: bool = False  # the CSMS refused the token in its answer to the start
    stop_reason: str | None = None
    meter_stop_wh: int | None = None

    def next_seq_no(self) -> int:
        seq = self.seq_no
        self.seq_no += 1
        return seq


@dataclass
class Sample:
    """One meter reading: Wh register, W, A (per phase), SoC % (DC only)."""

    energy_wh: int
    power_w: int
    current_a: float
    soc_percent: int | None


@dataclass
class EvseState:
    """One EVSE (one connector): status, meter, limits and the session in progress."""

    id: int
    rng: random.Random
    dc: bool = False
    phases: int = 3
    max_power_w: float = 22_000.0
    energy_wh: float = 0.0  # the register: only ever grows
    power_w: float = 0.0
    status: str = "Available"
    operative: bool = True
    limit_w: float | None = None  # from SetChargingProfile (EVSE or station share)
    tx_limit_w: float | None = None  # the session's TxProfile; dies with the session
    default_limit_w: float | None = None  # TxDefaultProfile: what a session starts under
    # The station-max profile (1.6 ChargePointMaxProfile, 2.0.1 ChargingStationMaxProfile): it
    # caps every other profile. Modelled per EVSE (each at most the cap), not on their sum.
    station_max_w: float | None = None
    vehicle: Vehicle | None = None
    transaction: Transaction | None = None
    reservation: Hold | None = None
    start_requests: list[StartRequest] = field(default_factory=list)
    wake: asyncio.Event = field(default_factory=asyncio.Event)  # start/stop request arrived
    stop_reason: str | None = None  # set to ask the loop to end the session
    last_advance: float = field(default_factory=time.monotonic)

    @property
    def voltage_v(self) -> float:
        return DC_VOLTAGE_V if self.dc else AC_VOLTAGE_V

    def amps_to_watts(self, amps: float, phases: int | None = None) -> float:
        return amps * self.voltage_v * (1 if self.dc else (phases or self.phases))

    def target_power_w(self) -> float:
        """What flows now: the least of charger, vehicle and profile limits; DC tapers past 80 %."""
        vehicle = self.vehicle
        if vehicle is None or self.transaction is None or vehicle.energy_needed_wh <= 0:
            return 0.0
        power = min(self.max_power_w, vehicle.max_power_w)
        if self.limit_w is not None:
            power = min(power, self.limit_w)
        if self.station_max_w is not None:
            power = min(power, self.station_max_w)
        if self.dc and vehicle.soc_percent > 80:
            power *= max(0.1, (100 - vehicle.soc_percent) / 20)
        return max(0.0, power)

    def advance(self, *, time_scale: float, now: float | None = None) -> None:
        """Integrate power over the (scaled) time since the last call."""
        now = time.monotonic() if now is None else now
        sim_s = max(0.0, now - self.last_advance) * time_scale
        self.last_advance = now
        energy = self.power_w * sim_s / 3600
        vehicle = self.vehicle
        if vehicle is not None and self.transaction is not None:
            energy = min(energy, vehicle.energy_needed_wh)
            vehicle.soc_percent += energy / vehicle.capacity_wh * 100
            self.energy_wh += energy
        self.power_w = self.target_power_w()

    def set_limit(self, limit_w: float | None, *, time_scale: float) -> None:
        self.advance(time_scale=time_scale)  # energy so far at the old power
        self.limit_w = limit_w
        self.power_w = self.target_power_w()

    def sample(self) -> Sample:
        current = self.power_w / (self.voltage_v * (1 if self.dc else self.phases))
        soc = None
        if self.dc and self.vehicle is not None:
            soc = round(self.vehicle.soc_percent)
        return Sample(int(self.energy_wh), round(self.power_w), round(current, 1), soc)


def profile_limit_w(profile: Mapping[str, Any], evse: EvseState) -> float | None:
    """The limit in W now in force in a snake_cased OCPP 1.6 or 2.0.1 charging profile.

    1.6 has one `charging_schedule`, 2.0.1 a list of them; the period in force is the last one
    starting at or before the schedule's start (period 0), since the simulator does not track
    schedule start times. Limits in A are converted with the EVSE's voltage and phases.
    """
    schedule = profile.get("charging_schedule")
    if isinstance(schedule, list):
        schedule = schedule[0] if schedule else None
    if not isinstance(schedule, Mapping):
        return None
    periods = sorted(
        schedule.get("charging_schedule_period") or [], key=lambda p: p.get("start_period", 0)
    )
    if not periods:
        return None
    period = periods[0]
    limit = float(period["limit"])
    if str(schedule.get("charging_rate_unit", "W")).upper() == "A":
        return evse.amps_to_watts(limit, period.get("number_phases"))
    return limit


@dataclass
class OperationsState:
    """Remote operations in progress on a simulated charger (`app.simulator.operations`)."""

    # sent once the next boot is accepted: a firmware update reports Installed after its reboot
    report_after_boot: Callable[[], Awaitable[None]] | None = None
    cache_clears: int = 0
    uploads: int = 0
    # the last status notification of each kind, and its 2.0.1 requestId (TriggerMessage resends)
    firmware_status: str = "Idle"
    firmware_request_id: int | None = None
    upload_status: str = "Idle"
    upload_request_id: int | None = None
