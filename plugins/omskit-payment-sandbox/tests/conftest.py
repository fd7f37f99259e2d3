"""Fixtures for the sandbox's tests: a provider on the kit's clock, and its test cards."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

import pytest
from omskit import Money, PaymentProvider
from omskit.testing import MutableClock

from omskit_payment_sandbox import SandboxProvider, cards

pytest_plugins = ["omskit.testing"]

Webhooks = list[tuple[Mapping[str, str], bytes]]


def _sandbox(provider: PaymentProvider) -> SandboxProvider:
    assert isinstance(provider, SandboxProvider)
    return provider


@pytest.fixture
def payment_clock() -> MutableClock:
    """The time of the Oms and of the sandbox (the kit's fixture, also for plain tests)."""
    return MutableClock()


@pytest.fixture
def payment_provider(payment_clock: MutableClock) -> SandboxProvider:
    """A fresh sandbox on the test's clock."""
    return SandboxProvider(clock=payment_clock, secret=b"whsec_test")


@pytest.fixture
def approved_method() -> str:
    return cards.APPROVED


@pytest.fixture
def declined_method() -> str:
    return cards.INSUFFICIENT_FUNDS


@pytest.fixture
def sent_webhooks() -> Callable[[PaymentProvider], Webhooks]:
    def sent(provider: PaymentProvider) -> Webhooks:
        return list(_sandbox(provider).webhooks())
    return sent


@pytest.fixture
def dispute() -> Callable[[PaymentProvider, str, Money, bool], None]:
    def run(provider: PaymentProvider, reference: str, amount: Money, won: bool) -> None:
        if won:
            _sandbox(provider).win_dispute(reference, amount)
        else:
            _sandbox(provider).dispute(reference, amount)
    return run


@pytest.fixture
def provider_captured() -> Callable[[PaymentProvider, str], Decimal]:
    def captured(provider: PaymentProvider, reference: str) -> Decimal:
        return _sandbox(provider).captured(reference)
    return captured
