"""The sandbox passes omskit's payment conformance kit, on SQLite and PostgreSQL."""

from __future__ import annotations

from omskit.testing import PaymentProviderConformance


class TestSandboxConformance(PaymentProviderConformance):
    """Every test of :class:`omskit.testing.PaymentProviderConformance`, on the sandbox."""
