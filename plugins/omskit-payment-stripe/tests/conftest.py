"""Fixtures for the Stripe plugin's tests: an in-memory Stripe on the kit's clock, and a
provider whose SDK talks to it (no network anywhere)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

import pytest
from omskit import Money, PaymentProvider
from omskit.testing import MutableClock

from fake_stripe import API_KEY, WEBHOOK_SECRET, FakeStripe
from omskit_payment_stripe import StripeProvider, StripeSettings, currencies

pytest_plugins = ["omskit.testing"]

Webhooks = list[tuple[Mapping[str, str], bytes]]


@pytest.fixture
def payment_clock() -> MutableClock:
    """The time of the Oms and of the fake Stripe (the kit's fixture, also for plain tests)."""
    return MutableClock()


@pytest.fixture
def fake_stripe(payment_clock: MutableClock) -> FakeStripe:
    """A fresh Stripe account, in memory, with multicapture."""
    return FakeStripe(payment_clock)


@pytest.fixture
def stripe_settings() -> StripeSettings:
    """Settings matching the fake account, multicapture on."""
    return StripeSettings(secret_key=API_KEY, webhook_secret=WEBHOOK_SECRET, multicapture=True)


@pytest.fixture
def payment_provider(fake_stripe: FakeStripe, stripe_settings: StripeSettings) -> StripeProvider:
    """The provider, its SDK's HTTP client playing the fake Stripe."""
    return StripeProvider(stripe_settings, http_client=fake_stripe.http_client())


@pytest.fixture
def approved_method() -> str:
    return "pm_card_visa"


@pytest.fixture
def declined_method() -> str:
    return "pm_card_chargeDeclinedInsufficientFunds"


@pytest.fixture
def sent_webhooks(fake_stripe: FakeStripe) -> Callable[[PaymentProvider], Webhooks]:
    def sent(provider: PaymentProvider) -> Webhooks:
        return list(fake_stripe.deliveries())
    return sent


@pytest.fixture
def dispute(fake_stripe: FakeStripe) -> Callable[[PaymentProvider, str, Money, bool], None]:
    def run(provider: PaymentProvider, reference: str, amount: Money, won: bool) -> None:
        if won:
            fake_stripe.close_dispute(reference, won=True)
        else:
            fake_stripe.dispute(reference, currencies.to_minor(amount))
    return run


@pytest.fixture
def provider_captured(fake_stripe: FakeStripe) -> Callable[[PaymentProvider, str], Decimal]:
    def captured(provider: PaymentProvider, reference: str) -> Decimal:
        intent = fake_stripe.intents[reference]
        return currencies.from_minor(fake_stripe.captured(reference), intent["currency"]).amount
    return captured
