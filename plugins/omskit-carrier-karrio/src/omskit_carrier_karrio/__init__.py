"""omskit-carrier-karrio: shipping carriers through the karrio SDK.

Registers one omskit shipping carrier per karrio connection listed in
``settings["carrier_karrio"]["connections"]``, under the connection's ``code``, with exactly
the capabilities its karrio extension implements (rates, labels, voids, return labels,
tracking, pickups; never webhooks). Checked at ``bootstrap`` by ``omskit_validate_settings``::

    oms = omskit.bootstrap("sqlite:///shop.db", settings={"carrier_karrio": {"connections": [
        {"code": "karrio-dhl", "carrier": "dhl_express", "test_mode": True,
         "credentials": {"site_id": "...", "password": "...", "account_number": "..."},
         "default_service": "dhl_express_worldwide"},
    ]}})

karrio is imported only when a connection is configured (importing it reconfigures loguru).
The entry point (``carrier-karrio = "omskit_carrier_karrio"``) registers this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from omskit import ShippingCarrier, hookimpl

from omskit_carrier_karrio.carrier import TRACKING_NOT_FOUND, KarrioCarrier
from omskit_carrier_karrio.settings import (
    SETTINGS_KEY,
    Connection,
    KarrioSettings,
    PickupWindow,
    parse,
    settings_of,
    validate,
)

__all__ = [
    "SETTINGS_KEY",
    "TRACKING_NOT_FOUND",
    "Connection",
    "KarrioCarrier",
    "KarrioSettings",
    "PickupWindow",
    "omskit_register_shipping_carriers",
    "omskit_validate_settings",
    "parse",
    "settings_of",
]


@hookimpl
def omskit_register_shipping_carriers(register: Callable[[ShippingCarrier], None],
                                      settings: Mapping[str, Any]) -> None:
    """One carrier per connection that parses (the others are reported by
    :func:`omskit_validate_settings`); a new object per ``Oms``, sharing nothing."""
    if SETTINGS_KEY not in settings:
        return
    for connection in settings_of(settings).connections:
        register(KarrioCarrier(connection.code, connection.carrier,  # type: ignore[arg-type]
                               connection.capabilities))


@hookimpl
def omskit_validate_settings(settings: Mapping[str, Any]) -> list[str]:
    """Every problem of ``settings["carrier_karrio"]``, as ``"path: message"``."""
    return validate(settings)
