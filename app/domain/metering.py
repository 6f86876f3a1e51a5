"""Version-neutral meter readings, and unit normalisation (energy in Wh, power in W)."""

from dataclasses import dataclass
from datetime import datetime

ENERGY_IMPORT_REGISTER = "Energy.Active.Import.Register"
POWER_IMPORT = "Power.Active.Import"
CURRENT_IMPORT = "Current.Import"
VOLTAGE = "Voltage"
SOC = "SoC"

# OCPP units and their factor to the base unit chargenet stores (Wh, W, A, V, Percent, varh, var).
_UNIT_FACTORS: dict[str, tuple[str, float]] = {
    "Wh": ("Wh", 1.0),
    "kWh": ("Wh", 1000.0),
    "W": ("W", 1.0),
    "kW": ("W", 1000.0),
    "A": ("A", 1.0),
    "V": ("V", 1.0),
    "Percent": ("Percent", 1.0),
    "varh": ("varh", 1.0),
    "kvarh": ("varh", 1000.0),
    "var": ("var", 1.0),
    "kvar": ("var", 1000.0),
    "Celsius": ("Celsius", 1.0),
    "Fahrenheit": ("Fahrenheit", 1.0),
    "K": ("K", 1.0),
    "VA": ("VA", 1.0),
    "kVA": ("VA", 1000.0),
    "Hz": ("Hz", 1.0),
}

# OCPP's default unit per measurand when the charger omits it.
_DEFAULT_UNITS = {
    ENERGY_IMPORT_REGISTER: "Wh",
    "Energy.Active.Export.Register": "Wh",
    POWER_IMPORT: "W",
    "Power.Offered": "W",
    CURRENT_IMPORT: "A",
    "Current.Offered": "A",
    VOLTAGE: "V",
    SOC: "Percent",
}


@dataclass(frozen=True, slots=True)
class SampledValue:
    """One measured value, already in chargenet's base unit (`unit`)."""

    measurand: str
    value: float
    unit: str
    phase: str | None = None
    location: str | None = None
    context: str | None = None


@dataclass(frozen=True, slots=True)
class MeterReading:
    """Values sampled at one instant on one EVSE."""

    timestamp: datetime
    values: tuple[SampledValue, ...]

    def find(self, measurand: str) -> SampledValue | None:
        """The total (phase-less) value of `measurand`, else the first phase's."""
        candidates = [v for v in self.values if v.measurand == measurand]
        for v in candidates:
            if v.phase is None:
                return v
        return candidates[0] if candidates else None


def normalise(
    *,
    measurand: str | None,
    raw_value: str | float,
    unit: str | None,
    multiplier: int = 0,
    phase: str | None = None,
    location: str | None = None,
    context: str | None = None,
) -> SampledValue:
    """Convert one OCPP sampled value to a `SampledValue` in base units.

    OCPP 1.6 sends the value as a decimal string; 2.0.1 as a number with an optional power-of-ten
    `multiplier`. A missing measurand means Energy.Active.Import.Register (both versions).
    Raises ValueError on a value that is not a finite number.
    """
    name = measurand or ENERGY_IMPORT_REGISTER
    number = float(raw_value)
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"sampled value {raw_value!r} of {name} is not a finite number")
    unit_name = unit or _DEFAULT_UNITS.get(name, "")
    base_unit, factor = _UNIT_FACTORS.get(unit_name, (unit_name, 1.0))
    return SampledValue(
        measurand=name,
        value=number * factor * (10.0**multiplier),
        unit=base_unit,
        phase=phase,
        location=location,
        context=context,
    )


def energy_register_wh(reading: MeterReading) -> int | None:
    """The cumulative imported energy in whole Wh, if the reading has it."""
    value = reading.find(ENERGY_IMPORT_REGISTER)
    if value is None or value.unit != "Wh":
        return None
    return round(value.value)


def power_w(reading: MeterReading) -> int | None:
    """Total active import power in W: the total if given, else the sum of the phases."""
    values = [v for v in reading.values if v.measurand == POWER_IMPORT and v.unit == "W"]
    if not values:
        return None
    totals = [v for v in values if v.phase is None]
    if totals:
        return round(totals[0].value)
    per_phase = [v for v in values if v.phase in ("L1", "L2", "L3", "L1-N", "L2-N", "L3-N")]
    return round(sum(v.value for v in per_phase)) if per_phase else round(values[0].value)


def soc_percent(reading: MeterReading) -> int | None:
    value = reading.find(SOC)
    return None if value is None else round(value.value)
