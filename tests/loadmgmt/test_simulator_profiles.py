"""The simulated charger keeps TxProfile and TxDefaultProfile apart, as a real one does: the
session's TxProfile rules it, a new default waits, and the default returns when the session ends."""

from app.simulator import SimulationConfig, create_station

PER_AMP_W = 230.0 * 3  # the simulated EVSEs are three-phase


async def test_tx_profile_rules_its_session_and_the_default_returns_after() -> None:
    config = SimulationConfig(url="ws://127.0.0.1:9/ocpp", stations=1, protocol="1.6",
                              evses_per_station=1, dc_every=0)  # fmt: skip
    station = create_station(config, 0)
    evse = station.evses[1]
    station.apply_limit(1, 10 * PER_AMP_W, "TxDefaultProfile")
    assert evse.limit_w == 10 * PER_AMP_W
    station.begin_transaction(1, "SIMTOKEN01")
    station.apply_limit(1, 16 * PER_AMP_W, "TxProfile")
    station.apply_limit(1, 6 * PER_AMP_W, "TxDefaultProfile")  # a lower default, later
    assert evse.limit_w == 16 * PER_AMP_W  # the session's own profile still rules
    assert evse.sample().current_a <= 16.0
    station.end_transaction(1)
    assert evse.limit_w == 6 * PER_AMP_W  # the next session starts under the default
    station.apply_limit(0, None)  # ClearChargingProfile
    assert (evse.limit_w, evse.default_limit_w, evse.tx_limit_w) == (None, None, None)


async def test_a_station_max_profile_caps_the_others_without_replacing_them() -> None:
    config = SimulationConfig(url="ws://127.0.0.1:9/ocpp", stations=1, protocol="2.0.1",
                              evses_per_station=2, dc_every=0)  # fmt: skip
    station = create_station(config, 0)
    evse = station.evses[1]
    station.begin_transaction(1, "SIMTOKEN01")
    station.apply_limit(1, 16 * PER_AMP_W, "TxProfile")
    station.apply_limit(0, 8 * PER_AMP_W, "ChargingStationMaxProfile")
    assert evse.tx_limit_w == 16 * PER_AMP_W  # the session's own profile is kept
    assert evse.sample().current_a <= 8.0  # but the station's max rules
    station.apply_limit(0, 32 * PER_AMP_W, "ChargingStationMaxProfile")
    assert evse.sample().current_a > 8.0  # lifted: back up to the TxProfile
    assert evse.sample().current_a <= 16.0
