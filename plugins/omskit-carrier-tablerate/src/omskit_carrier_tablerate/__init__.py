"""omskit-carrier-tablerate: a shipping carrier priced from a table.

Contributes one shipping carrier, code ``tablerate``, through
``omskit_register_shipping_carriers``, with every capability: rates from zones (countries,
postcode prefixes) × weight bands with transit days; labels rendered locally as PDF with a
Code 128 barcode; a return label; pickups; tracking and HMAC-signed webhooks from a simulated
network (:meth:`TableRateCarrier.simulate`). Configured in ``settings["carrier_tablerate"]``
(checked at ``bootstrap`` by ``omskit_validate_settings``)::

    oms = omskit.bootstrap("sqlite:///shop.db", settings={"carrier_tablerate": {
        "webhook_secret": "change-me-16-chars-at-least",
        "zones": [{"name": "italy", "countries": ["IT"], "transit_days": 2,
                   "bands": [{"up_to_grams": 5000, "price": "6.90"}]}]}})

The entry point (``carrier-tablerate = "omskit_carrier_tablerate"``) registers this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from omskit import ShippingCarrier, hookimpl

from omskit_carrier_tablerate.carrier import (
    CARRIER_CODE,
    EVENT_CODES,
    SERVICES,
    SIGNATURE_HEADER,
    TableRateCarrier,
)
from omskit_carrier_tablerate.settings import (
    SETTINGS_KEY,
    TableRateSettings,
    WeightBand,
    Zone,
    parse,
    validate,
)

__all__ = [
    "CARRIER_CODE",
    "EVENT_CODES",
    "SERVICES",
    "SETTINGS_KEY",
    "SIGNATURE_HEADER",
    "TableRateCarrier",
    "TableRateSettings",
    "WeightBand",
    "Zone",
    "omskit_register_shipping_carriers",
    "omskit_validate_settings",
    "parse",
]


@hookimpl
def omskit_register_shipping_carriers(register: Callable[[ShippingCarrier], None]) -> None:
    """Contribute the ``tablerate`` carrier (a new one per ``Oms``, sharing nothing)."""
    register(TableRateCarrier())


@hookimpl
def omskit_validate_settings(settings: Mapping[str, Any]) -> list[str]:
    """Every problem of ``settings["carrier_tablerate"]``, as ``"path: message"``."""
    return validate(settings)
