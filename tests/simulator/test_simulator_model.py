"""The simulator's pure parts: configuration, the EVSE's electrical model, charging profiles."""

import random
from typing import Any

import pytest

from app.simulator import SimulatedStation16, SimulatedStation201, SimulationConfig, create_station
from app.simulator.model import EvseState, Transaction, Vehicle, profile_limit_w


def charging_evse(*, dc: bool = False, limit_w: float | None = None) -> EvseState:
    evse = EvseState(id=1, rng=random.Random(1), dc=dc, max_power_w=50_000 if dc else 22_000,
                     energy_wh=1_000, last_advance=0.0)  # fmt: skip
    evse.vehicle = Vehicle(capacity_wh=60_000, soc_percent=50, target_soc_percent=100,
                           max_power_w=150_000)  # fmt: skip
    evse.transaction = Transaction(local_id="t", evse_id=1, token="T", meter_start_wh=1_000)
    evse.limit_w = limit_w
    evse.advance(time_scale=1, now=0.0)
    return evse


def test_meter_register_grows_with_power_over_time() -> None:
    evse = charging_evse()
    readings = []
    for minute in range(1, 6):
        evse.advance(time_scale=1, now=minute * 60.0)
        readings.append(evse.sample())
    energies = [r.energy_wh for r in readings]
    assert energies == sorted(energies)
    assert energies[-1] - 1_000 == pytest.approx(22_000 * 5 / 60, abs=1)  # 5 minutes at 22 kW
    assert readings[-1].power_w == 22_000
    assert readings[-1].current_a == pytest.approx(22_000 / 690, abs=0.1)
    assert readings[-1].soc_percent is None  # AC chargers do not know the SoC


def test_time_scale_speeds_up_simulated_time() -> None:
    evse = charging_evse()
    evse.advance(time_scale=60, now=60.0)  # one real minute = one simulated hour
    assert evse.sample().energy_wh == 1_000 + 22_000


def test_a_limit_caps_power_and_energy_stops_at_the_target() -> None:
    evse = charging_evse(limit_w=3_000)
    evse.advance(time_scale=1, now=3600.0)
    assert evse.sample().power_w == 3_000
    assert evse.sample().energy_wh == 4_000
    evse.advance(time_scale=100, now=7200.0)  # far longer than the battery needs
    assert evse.sample().energy_wh == 1_000 + 30_000  # 50 % of 60 kWh, no more
    assert evse.sample().power_w == 0


def test_dc_reports_soc_and_tapers_above_80_percent() -> None:
    evse = charging_evse(dc=True)
    assert evse.sample().power_w == 50_000
    evse.advance(time_scale=1, now=1800.0)  # 25 kWh: 50 % -> ~92 %
    sample = evse.sample()
    assert sample.soc_percent == 92
    assert 0 < sample.power_w < 50_000 * 0.5


def period(limit: float, **extra: Any) -> dict[str, Any]:
    return {"start_period": 0, "limit": limit, **extra}


@pytest.mark.parametrize(
    ("profile", "dc", "expected_w"),
    [
        pytest.param({"charging_schedule": {"charging_rate_unit": "W",
                      "charging_schedule_period": [period(7_000)]}}, False, 7_000, id="16-watts"),
        pytest.param({"charging_schedule": {"charging_rate_unit": "A",
                      "charging_schedule_period": [period(16)]}}, False, 16 * 230 * 3,
                     id="16-amps-3-phase"),
        pytest.param({"charging_schedule": [{"id": 1, "charging_rate_unit": "A",
                      "charging_schedule_period": [period(10, number_phases=1), ]}]}, False,
                     10 * 230, id="201-amps-1-phase"),
        pytest.param({"charging_schedule": [{"id": 1, "charging_rate_unit": "A",
                      "charging_schedule_period": [period(50)]}]}, True, 50 * 400,
                     id="201-dc-amps"),
        pytest.param({"charging_schedule": {"charging_rate_unit": "W", "charging_schedule_period": [
                      {"start_period": 600, "limit": 1_000}, period(5_000)]}}, False, 5_000,
                     id="first-period"),
        pytest.param({"charging_schedule": []}, False, None, id="no-schedule"),
    ],
)  # fmt: skip
def test_profile_limit_in_watts(profile: dict[str, Any], dc: bool, expected_w: float) -> None:
    assert profile_limit_w(profile, charging_evse(dc=dc)) == expected_w


def test_config_alternates_protocols_and_spreads_dc_stations() -> None:
    config = SimulationConfig(url="ws://127.0.0.1:1/ocpp", stations=6, seed=3, dc_every=3)
    stations = [create_station(config, i) for i in range(6)]
    assert [type(s) for s in stations[:2]] == [SimulatedStation16, SimulatedStation201]
    assert [s.station_id for s in stations[:2]] == ["SIM-0001", "SIM-0002"]
    assert [s.dc for s in stations] == [False, False, True, False, False, True]
    assert stations[0].url == "ws://127.0.0.1:1/ocpp/SIM-0001"


def test_same_seed_same_network() -> None:
    def serials(seed: int) -> list[str]:
        config = SimulationConfig(url="ws://127.0.0.1:1/ocpp", stations=3, seed=seed)
        return [create_station(config, i).serial for i in range(3)]

    assert serials(7) == serials(7)
    assert serials(7) != serials(8)


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        pytest.param("shared", "shared", id="one-for-all"),
        pytest.param({"SIM-0001": "mine"}, "mine", id="mapping"),
        pytest.param(lambda sid: f"pw-{sid}", "pw-SIM-0001", id="callable"),
        pytest.param(None, None, id="none"),
    ],
)
def test_passwords_per_station(password: Any, expected: str | None) -> None:
    config = SimulationConfig(url="ws://127.0.0.1:1/ocpp", password=password)
    assert create_station(config, 0).password == expected


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"protocol": "2.0"}, id="protocol"),
        pytest.param({"evses_per_station": 0}, id="evses"),
        pytest.param({"time_scale": 0}, id="time-scale"),
        pytest.param({"id_tokens": ()}, id="tokens"),
    ],
)
def test_config_rejects_bad_values(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="expected"):
        SimulationConfig(url="ws://127.0.0.1:1/ocpp", **options)
