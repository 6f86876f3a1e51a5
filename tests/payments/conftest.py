"""Payments tests run the app against localstripe: `settings` gains a Stripe gateway."""

import pytest

from app.settings import Settings
from tests.payments.harness import localstripe, localstripe_url, with_payments

__all__ = ["localstripe", "localstripe_url"]


@pytest.fixture
def settings(settings: Settings, localstripe_url: str) -> Settings:
    return with_payments(settings, localstripe_url)
