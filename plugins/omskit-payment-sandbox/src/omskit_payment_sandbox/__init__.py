"""omskit-payment-sandbox: an in-process payment provider for demos and tests.

Installed, it contributes the payment provider ``sandbox`` (through the entry point
``sandbox``), a new :class:`SandboxProvider` per ``Oms``. To control its clock, secret or
capabilities, register your own instead: ``bootstrap(..., plugins=[SandboxPlugin(
SandboxProvider(clock=my_clock))])`` with the entry point disabled (``disabled_plugins=
["sandbox"]``) or under another ``code``.
"""

from __future__ import annotations

from collections.abc import Callable

from omskit import PaymentProvider, hookimpl

from omskit_payment_sandbox import cards
from omskit_payment_sandbox.provider import (
    AUTHORISATION_TTL,
    DEFAULT_SECRET,
    MAX_CAPTURES,
    Fault,
    SandboxProvider,
)
from omskit_payment_sandbox.webhooks import SIGNATURE_HEADER


class SandboxPlugin:
    """A plugin object that contributes one given :class:`SandboxProvider`."""

    def __init__(self, provider: SandboxProvider) -> None:
        self.provider = provider
        #: Named after the provider's code in ``oms.plugins()``.
        self.omskit_name = f"sandbox-{provider.code}"

    @hookimpl
    def omskit_register_payment_providers(
            self, register: Callable[[PaymentProvider], None]) -> None:
        """Contribute the provider."""
        register(self.provider)


@hookimpl
def omskit_register_payment_providers(register: Callable[[PaymentProvider], None]) -> None:
    """Contribute a fresh ``sandbox`` provider (default clock and secret)."""
    register(SandboxProvider())


__all__ = ["AUTHORISATION_TTL", "DEFAULT_SECRET", "MAX_CAPTURES", "SIGNATURE_HEADER", "Fault",
           "SandboxPlugin", "SandboxProvider", "cards"]
