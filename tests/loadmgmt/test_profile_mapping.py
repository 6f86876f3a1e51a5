"""Station-max profiles and absolute schedules on the wire: schema-valid 1.6 and 2.0.1 CALLs."""

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest
from ocpp.charge_point import remove_nones, snake_to_camel_case
from ocpp.messages import Call, validate_payload

from app.domain.commands import SetChargingLimit
from app.domain.errors import InvalidInput
from app.ocpp.v16.mapping import command_payload as payload16
from app.ocpp.v201.mapping import command_payload as payload201

AT = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
VERSIONS = [pytest.param("1.6", id="ocpp16"), pytest.param("2.0.1", id="ocpp201")]


async def wire(version: str, command: SetChargingLimit) -> dict[str, Any]:
    """The CALL's payload as it is sent, after the `ocpp` package's own schema check."""
    request = (payload16 if version == "1.6" else payload201)(command)
    body: dict[str, Any] = snake_to_camel_case(remove_nones(dataclasses.asdict(request)))
    await validate_payload(Call("1", "SetChargingProfile", body), version)
    return body


def profile_of(version: str, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, Any]]:
    if version == "1.6":
        profile = body["csChargingProfiles"]
        return body["connectorId"], profile, profile["chargingSchedule"]
    profile = body["chargingProfile"]
    return body["evseId"], profile, profile["chargingSchedule"][0]


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_station_max_schedule_is_an_absolute_profile_on_the_whole_station(
    version: str,
) -> None:
    command = SetChargingLimit(
        ocpp_evse_id=0, limit_a=32.0, number_phases=3, station_max=True, starts_at=AT,
        later_periods=((1800, 13.0), (5400, 32.0)),
    )  # fmt: skip
    evse, profile, schedule = profile_of(version, await wire(version, command))
    assert evse == 0
    assert profile["chargingProfilePurpose"] == (
        "ChargePointMaxProfile" if version == "1.6" else "ChargingStationMaxProfile"
    )
    assert profile["chargingProfileKind"] == "Absolute"
    assert profile["stackLevel"] == 0
    assert schedule["startSchedule"] == AT.isoformat()
    assert [(p["startPeriod"], p["limit"], p["numberPhases"])
            for p in schedule["chargingSchedulePeriod"]] == [
        (0, 32.0, 3), (1800, 13.0, 3), (5400, 32.0, 3)
    ]  # fmt: skip


@pytest.mark.parametrize("version", VERSIONS)
async def test_a_single_limit_without_a_start_stays_relative(version: str) -> None:
    _, profile, schedule = profile_of(
        version, await wire(version, SetChargingLimit(ocpp_evse_id=1, limit_a=10.66))
    )
    assert profile["chargingProfilePurpose"] == "TxDefaultProfile"
    assert profile["chargingProfileKind"] == "Relative"
    assert "startSchedule" not in schedule
    assert schedule["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 10.6}]


@pytest.mark.parametrize(
    ("later", "starts_at"),
    [
        pytest.param(((600, 6.0), (300, 10.0)), AT, id="not-increasing"),
        pytest.param(((0, 6.0),), AT, id="second-period-at-0"),
        pytest.param(((600, 6.0),), None, id="no-start"),
    ],
)
def test_a_schedule_that_cannot_be_sent_is_refused_by_value(
    later: tuple[tuple[int, float], ...], starts_at: datetime | None
) -> None:
    command = SetChargingLimit(ocpp_evse_id=1, limit_a=16.0, starts_at=starts_at,
                               later_periods=later)  # fmt: skip
    with pytest.raises(InvalidInput, match=r"later_periods|period start"):
        payload16(command)
