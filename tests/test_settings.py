"""Settings: `.env.example` documents every variable and parses to the defaults."""

from pathlib import Path

from app.settings import Settings

ENV_EXAMPLE = Path(__file__).resolve().parent.parent / ".env.example"


def _documented_names() -> set[str]:
    names = set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            names.add(line.split("=", 1)[0].strip())
    return names


def test_env_example_lists_every_setting() -> None:
    expected = {name.upper() for name in Settings.model_fields}
    assert _documented_names() == expected


def test_env_example_parses_to_the_defaults() -> None:
    from_file = Settings(_env_file=ENV_EXAMPLE)  # type: ignore[call-arg]
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    assert from_file.model_dump() == defaults.model_dump()


def test_empty_values_mean_unset() -> None:
    settings = Settings(_env_file=None, redis_url="", stripe_secret_key="")  # type: ignore[call-arg]
    assert settings.redis_url is None
    assert settings.stripe_secret_key is None
