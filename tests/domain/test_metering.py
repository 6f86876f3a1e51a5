"""Unit normalisation of OCPP sampled values."""

from datetime import UTC, datetime

import pytest

from app.domain.metering import (
    MeterReading,
    SampledValue,
    energy_register_wh,
    normalise,
    power_w,
    soc_percent,
)


@pytest.mark.parametrize(
    ("measurand", "raw", "unit", "multiplier", "expected_value", "expected_unit"),
    [
        ("Energy.Active.Import.Register", "1234.5", "Wh", 0, 1234.5, "Wh"),
        ("Energy.Active.Import.Register", "12.5", "kWh", 0, 12_500.0, "Wh"),
        (None, "42", None, 0, 42.0, "Wh"),
        ("Power.Active.Import", 7.4, "kW", 0, 7400.0, "W"),
        ("Power.Active.Import", 74, "W", 2, 7400.0, "W"),
        ("Current.Import", "16", None, 0, 16.0, "A"),
        ("SoC", 55, None, 0, 55.0, "Percent"),
    ],
    ids=["wh", "kwh", "default-measurand", "kw", "multiplier", "default-amps", "soc"],
)
def test_normalise_converts_to_base_units(
    measurand: str | None,
    raw: str | float,
    unit: str | None,
    multiplier: int,
    expected_value: float,
    expected_unit: str,
) -> None:
    value = normalise(measurand=measurand, raw_value=raw, unit=unit, multiplier=multiplier)
    assert value.value == pytest.approx(expected_value)
    assert value.unit == expected_unit


@pytest.mark.parametrize("raw", ["abc", "nan", "inf", ""], ids=["text", "nan", "inf", "empty"])
def test_normalise_rejects_values_that_are_not_finite_numbers(raw: str) -> None:
    with pytest.raises(ValueError, match=r"finite number|could not convert"):
        normalise(measurand="Energy.Active.Import.Register", raw_value=raw, unit="Wh")


def test_power_prefers_the_total_and_otherwise_sums_phases() -> None:
    now = datetime.now(UTC)
    phases = MeterReading(
        now,
        tuple(
            SampledValue("Power.Active.Import", 2300.0, "W", phase=p) for p in ("L1", "L2", "L3")
        ),
    )
    assert power_w(phases) == 6900
    with_total = MeterReading(
        now, (*phases.values, SampledValue("Power.Active.Import", 7000.0, "W"))
    )
    assert power_w(with_total) == 7000


def test_energy_and_soc_are_read_from_a_reading() -> None:
    reading = MeterReading(
        datetime.now(UTC),
        (
            SampledValue("Energy.Active.Import.Register", 15_000.4, "Wh"),
            SampledValue("SoC", 81.0, "Percent"),
        ),
    )
    assert energy_register_wh(reading) == 15_000
    assert soc_percent(reading) == 81
    assert energy_register_wh(MeterReading(reading.timestamp, ())) is None
