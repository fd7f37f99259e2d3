"""omskit-payment-stripe: omskit payments through Stripe's PaymentIntents, on the official SDK.

Installed, it contributes the payment provider ``stripe`` (entry point ``payment-stripe``)
to every ``Oms`` whose settings configure it::

    oms = omskit.bootstrap("postgresql://...", settings={"payment_stripe": {
        "secret_key": "sk_live_...", "webhook_secret": "whsec_...", "multicapture": True}})

``omskit_validate_settings`` lists every problem of ``settings["payment_stripe"]`` at
bootstrap; without the key the plugin contributes nothing. To build the provider yourself
(another code, your own HTTP client), register a :class:`StripePlugin` with the entry point
disabled (``disabled_plugins=["payment-stripe"]``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from omskit import PaymentProvider, hookimpl

from omskit_payment_stripe import currencies, metadata, webhooks
from omskit_payment_stripe.errors import translate
from omskit_payment_stripe.provider import AUTHORISATION_TTL, BASE_CAPABILITIES, StripeProvider
from omskit_payment_stripe.settings import (
    SETTINGS_KEY,
    TESTED_API_VERSION,
    StripeSettings,
    parse,
    settings_of,
    validate,
)


class StripePlugin:
    """A plugin object that contributes one given :class:`StripeProvider`."""

    def __init__(self, provider: StripeProvider) -> None:
        self.provider = provider
        #: Named after the provider's code in ``oms.plugins()``.
        self.omskit_name = f"payment-stripe-{provider.code}"

    @hookimpl
    def omskit_register_payment_providers(
            self, register: Callable[[PaymentProvider], None]) -> None:
        """Contribute the provider."""
        register(self.provider)


@hookimpl
def omskit_register_payment_providers(register: Callable[[PaymentProvider], None],
                                      settings: Mapping[str, Any]) -> None:
    """Contribute a ``stripe`` provider built from ``settings["payment_stripe"]`` (nothing
    when the key is absent, or wrong: ``omskit_validate_settings`` then says why)."""
    found = settings_of(settings)
    if found is not None:
        register(StripeProvider(found))


@hookimpl
def omskit_validate_settings(settings: Mapping[str, Any]) -> list[str]:
    """Every problem of ``settings["payment_stripe"]``, as ``"payment_stripe.<field>: ..."``."""
    return validate(settings)


__all__ = [
    "AUTHORISATION_TTL",
    "BASE_CAPABILITIES",
    "SETTINGS_KEY",
    "TESTED_API_VERSION",
    "StripePlugin",
    "StripeProvider",
    "StripeSettings",
    "currencies",
    "metadata",
    "omskit_register_payment_providers",
    "omskit_validate_settings",
    "parse",
    "settings_of",
    "translate",
    "webhooks",
]
