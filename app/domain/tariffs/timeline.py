"""A session as priced: contiguous periods of charging or idling, built from meter samples."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import pairwise

from app.domain.errors import InvalidInput


def require_aware(name: str, value: datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(f"{name} must be timezone-aware (UTC), got naive {value.isoformat()}")


@dataclass(frozen=True, slots=True)
class ChargingPeriod:
    """`energy_wh` delivered between `start` and `end`, at a constant `power_w` and `current_a`.

    `charging` False means plugged in but idle (PARKING_TIME). Without `power_w` the average power
    (energy over duration) is used; without `current_a`, elements restricted on current never match.
    """

    start: datetime
    end: datetime
    energy_wh: int | Decimal
    charging: bool = True
    power_w: int | Decimal | None = None
    current_a: Decimal | None = None

    def __post_init__(self) -> None:
        require_aware("period start", self.start)
        require_aware("period end", self.end)
        if self.end <= self.start:
            raise InvalidInput(
                f"period end {self.end.isoformat()} must be after start {self.start.isoformat()}"
            )
        for name in ("energy_wh", "power_w", "current_a"):
            value = getattr(self, name)
            if value is not None and (
                (isinstance(value, Decimal) and not value.is_finite()) or value < 0
            ):
                raise InvalidInput(f"period {name} must be finite and >= 0, got {value!r}")


@dataclass(frozen=True, slots=True)
class MeterSample:
    """One meter reading: the energy register (Wh since the meter's origin) at `timestamp`."""

    timestamp: datetime
    energy_register_wh: int | Decimal
    power_w: int | Decimal | None = None
    current_a: Decimal | None = None


def periods_from_meter(samples: Sequence[MeterSample]) -> tuple[ChargingPeriod, ...]:
    """One period between each pair of consecutive samples; the first sample starts the session.

    A period is charging when the register advanced. Its power and current are those sampled at
    its start, else (power) the average over the period.
    """
    if len(samples) < 2:
        raise InvalidInput(f"a session needs at least 2 meter samples, got {len(samples)}")
    periods = []
    for before, after in pairwise(samples):
        require_aware("meter sample timestamp", before.timestamp)
        require_aware("meter sample timestamp", after.timestamp)
        if after.timestamp <= before.timestamp:
            raise InvalidInput(
                f"meter samples must be in time order: {after.timestamp.isoformat()} "
                f"follows {before.timestamp.isoformat()}"
            )
        energy = after.energy_register_wh - before.energy_register_wh
        if energy < 0:
            raise InvalidInput(
                f"energy register went backwards from {before.energy_register_wh} Wh "
                f"to {after.energy_register_wh} Wh at {after.timestamp.isoformat()}"
            )
        periods.append(
            ChargingPeriod(
                start=before.timestamp,
                end=after.timestamp,
                energy_wh=energy,
                charging=energy > 0,
                power_w=before.power_w if energy > 0 else 0,
                current_a=before.current_a if energy > 0 else Decimal(0),
            )
        )
    return tuple(periods)
