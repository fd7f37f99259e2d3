"""omskit-returns-standard: the standard returns policy, configured from settings.

It contributes one returns policy, ``standard`` (``omskit.ReturnsPolicy``): a return window
counted from delivery, the reasons a customer may give, categories of goods never taken back,
a restocking fee, a return-label fee, when shipping is refunded, and which stores take
returns, all read from ``settings["returns_standard"]`` and checked at ``bootstrap``. The
core keeps every invariant (shipped quantities, receipts, stock, the payment ledger).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from omskit import ReturnsPolicy, hookimpl

from omskit_returns_standard.policy import CODE, StandardReturnsPolicy
from omskit_returns_standard.settings import (
    SETTINGS_KEY,
    ShippingRefund,
    StandardSettings,
    StoreRules,
    standard_settings,
    validate,
)

__all__ = ["CODE", "SETTINGS_KEY", "ShippingRefund", "StandardReturnsPolicy",
           "StandardSettings", "StoreRules", "omskit_register_returns_policies",
           "omskit_validate_settings", "standard_settings"]


@hookimpl
def omskit_register_returns_policies(register: Callable[[ReturnsPolicy], None]) -> None:
    """Contribute the ``standard`` returns policy."""
    register(StandardReturnsPolicy())


@hookimpl
def omskit_validate_settings(settings: Mapping[str, Any]) -> list[str]:
    """Every problem with ``settings["returns_standard"]``."""
    return validate(settings)
