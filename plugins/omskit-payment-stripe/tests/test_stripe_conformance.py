"""The Stripe provider passes omskit's payment conformance kit, on SQLite and PostgreSQL,
against the in-memory Stripe (tests/fake_stripe.py) at the SDK's HTTP transport."""

from __future__ import annotations

from omskit.testing import PaymentProviderConformance


class TestStripeConformance(PaymentProviderConformance):
    """Every test of :class:`omskit.testing.PaymentProviderConformance`, on Stripe."""
