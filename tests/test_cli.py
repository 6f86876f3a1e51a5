"""The `chargenet` command against a fresh SQLite database."""

from pathlib import Path

import pytest

from app.cli import main


@pytest.fixture
def fresh_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cli.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    assert main(["migrate"]) == 0
    return path


def test_locations_add_prints_the_new_id_and_list_shows_it(
    fresh_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["locations", "add", "--name", "Depot", "--lat", "52.09", "--lng", "5.12"]) == 0
    location_id = capsys.readouterr().out.strip()
    assert location_id == "1"
    assert main(["locations", "list"]) == 0
    assert "1\tDepot\t52.090000,5.120000" in capsys.readouterr().out


def test_stations_add_provisions_a_station_at_a_location(
    fresh_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["locations", "add", "--name", "Depot", "--lat", "52.09", "--lng", "5.12"])
    capsys.readouterr()
    args = "stations add CP-0001 --password a-16-to-40-char-secret --location 1 --evses 2"
    code = main(args.split())
    assert code == 0
    assert capsys.readouterr().out.strip() == "CP-0001"
    assert main(["stations", "list"]) == 0
    assert capsys.readouterr().out.startswith("CP-0001\t1\toffline")


def test_a_refused_command_says_why_and_exits_non_zero(
    fresh_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["stations", "add", "CP-0002", "--password", "short", "--location", "1"])
    assert code == 1
    assert "16 to 40" in capsys.readouterr().err


def test_seed_demo_is_idempotent(fresh_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["seed", "--demo"]) == 0
    first = capsys.readouterr().out
    assert main(["seed", "--demo"]) == 0
    assert capsys.readouterr().out == first
    assert "6 stations" in first
