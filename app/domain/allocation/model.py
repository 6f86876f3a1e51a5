"""Inputs of the load-management allocator: EVSEs, electrical constraints, session demands."""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from app.domain.errors import InvalidInput

#: IEC 61851 / SAE J1772: a control pilot cannot signal less than 6 A, except 0 (pause).
MIN_PILOT_A = 6.0
#: Remaining energy below this is rounding noise of kWh arithmetic, not a need.
NOISE_WH = 1e-3


@dataclass(frozen=True, slots=True)
class EvseSpec:
    """One controllable EVSE as the allocator sees it.

    `phase_angle_deg` is the angle of the current this EVSE draws on the feeder (0, -120 and 120
    for line-to-neutral loads on a three-phase supply; 30, -90, 150 for line-to-line ones).
    `allowed_a`, when given, lists the only pilots the EVSE accepts besides 0; otherwise any value
    in `[min_a, max_a]` is accepted.
    """

    id: str
    voltage_v: float
    phase_angle_deg: float = 0.0
    min_a: float = 0.0
    max_a: float = 32.0
    allowed_a: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if not self.voltage_v > 0:
            raise InvalidInput(f"EVSE {self.id!r}: voltage_v={self.voltage_v}, expected > 0")
        if not 0 <= self.min_a <= self.max_a or not math.isfinite(self.max_a):
            raise InvalidInput(
                f"EVSE {self.id!r}: min_a={self.min_a}, max_a={self.max_a}, "
                "expected 0 <= min_a <= max_a < inf"
            )
        if self.allowed_a is not None and any(
            not (math.isfinite(a) and a >= 0) for a in self.allowed_a
        ):
            raise InvalidInput(
                f"EVSE {self.id!r}: allowed_a={self.allowed_a}, expected finite values >= 0"
            )


@dataclass(frozen=True, slots=True)
class Constraint:
    """An electrical limit: `|sum_i coeffs[i] * I_i * exp(j * phase_i)| <= limit_a`.

    With all phase angles equal this is the plain sum of currents (a breaker or a feeder).
    Coefficients map one line's current onto the EVSE currents: 1.0 and -1.0 for the two lines
    of a line-to-line load, fractions for the primary side of a transformer.
    """

    name: str
    limit_a: float
    coeffs: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (math.isfinite(self.limit_a) and self.limit_a >= 0):
            raise InvalidInput(f"constraint {self.name!r}: limit_a={self.limit_a}, expected >= 0")


@dataclass(frozen=True, slots=True)
class SessionDemand:
    """What a plugged-in vehicle still wants, as the scheduler knows it.

    The departure is the driver's estimate, either as a period index on the same clock as
    `allocate(now=...)` (`departure_period`) or in seconds from now (`departure_in_s`); exactly
    one must be given. A higher `priority` is always served before a lower one.
    """

    evse_id: str
    #: Energy still wanted. Whole Wh from a meter, or fractional (`from_kwh`): the allocator
    #: sizes a finishing session's last pilot from it, and a pilot above what the EV will draw
    #: holds constraint capacity nobody uses.
    energy_wh: float
    max_power_w: float
    departure_period: int | None = None
    departure_in_s: float | None = None
    priority: int = 0

    def __post_init__(self) -> None:
        if (self.departure_period is None) == (self.departure_in_s is None):
            raise InvalidInput(
                f"session on {self.evse_id!r}: give exactly one of departure_period "
                f"({self.departure_period}) and departure_in_s ({self.departure_in_s})"
            )
        if not (math.isfinite(self.energy_wh) and self.energy_wh >= 0):
            raise InvalidInput(
                f"session on {self.evse_id!r}: energy_wh={self.energy_wh}, expected >= 0"
            )
        if not self.max_power_w >= 0:
            raise InvalidInput(
                f"session on {self.evse_id!r}: max_power_w={self.max_power_w}, expected >= 0"
            )

    @classmethod
    def from_kwh(
        cls,
        *,
        evse_id: str,
        energy_kwh: float,
        max_kw: float,
        departure_period: int | None = None,
        departure_in_s: float | None = None,
        priority: int = 0,
    ) -> "SessionDemand":
        """Build a demand from kWh / kW figures.

        The energy is kept exact, down to `NOISE_WH`, below which a remainder is a float's
        noise (a finished session would otherwise hold a 6 A pilot to the end). Rounded up to
        the next Wh, as before, every finishing session's last pilot was up to 0.06 A above
        what the EV drew: on a congested site that is energy lost (0.01 kWh on the synthetic
        scenario, enough to trail ACN's LLF).
        """
        wh = energy_kwh * 1000
        return cls(
            evse_id=evse_id,
            energy_wh=wh if wh > NOISE_WH else 0,
            max_power_w=max_kw * 1000,
            departure_period=departure_period,
            departure_in_s=departure_in_s,
            priority=priority,
        )

    def seconds_left(self, *, now: int, period_s: float) -> float:
        """Seconds until the announced departure (negative once it has passed)."""
        if self.departure_in_s is not None:
            return self.departure_in_s
        assert self.departure_period is not None
        return (self.departure_period - now) * period_s
