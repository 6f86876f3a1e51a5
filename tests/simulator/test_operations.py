"""The simulator's firmware versions: what an image at a location installs."""

import pytest

from app.simulator.operations import new_version


@pytest.mark.parametrize(
    ("location", "current", "expected"),
    [
        ("https://fw.example.com/sim-2.1.0.bin", "1.4.2", "2.1.0"),
        ("ftp://fw.example.com/v3.0/image.bin", "1.4.2", "3.0"),
        ("https://fw.example.com/latest.bin", "1.4.2", "1.4.3"),
        ("https://fw.example.com/latest.bin", "7", "8"),
        ("https://fw.example.com/latest.bin", "beta", "beta.1"),
    ],
)
def test_the_new_version_comes_from_the_location_or_bumps_the_current(
    location: str, current: str, expected: str
) -> None:
    assert new_version(location, current) == expected
