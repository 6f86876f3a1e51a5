"""Monitoring tests run the health monitor's passes themselves (`run_once`, with a clock)."""

import pytest

from app.settings import Settings


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # The app's own monitor must not pass behind a test's back: its rows (silent stations,
    # old sessions, alerts) would change while the test looks at them.
    return settings.model_copy(update={"health_check_interval_s": 3600.0})
