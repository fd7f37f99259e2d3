"""The connections under test: karrio's generic carrier, DHL Express and UPS (sandboxes)."""

from __future__ import annotations

import copy
from typing import Any

SHIPPER = {"company_name": "Conformance DC", "person_name": "Magazzino",
           "phone_number": "+39 02 1234567", "email": "spedizioni@example.com"}

#: karrio's generic carrier: labels rendered locally, rates from the connection's rate sheet.
GENERIC: dict[str, Any] = {
    "code": "karrio-local", "carrier": "generic", "shipper": SHIPPER,
    "credentials": {
        "display_name": "Corriere Locale", "custom_carrier_name": "corriere_locale",
        "services": [
            {"service_name": "Standard", "service_code": "corriere_standard",
             "currency": "EUR", "weight_unit": "KG", "max_weight": 30,
             "zones": [{"rate": 6.9, "max_weight": 5, "transit_days": 2,
                        "country_codes": ["IT"]},
                       {"rate": 11.5, "min_weight": 5, "max_weight": 30, "transit_days": 2,
                        "country_codes": ["IT"]}]},
            {"service_name": "Express", "service_code": "corriere_express",
             "currency": "EUR", "weight_unit": "KG", "max_weight": 5,
             "zones": [{"rate": 9.9, "max_weight": 5, "transit_days": 1,
                        "country_codes": ["IT"]}]},
        ]},
}
DHL: dict[str, Any] = {
    "code": "karrio-dhl", "carrier": "dhl_express", "test_mode": True, "shipper": SHIPPER,
    "credentials": {"site_id": "omskit-site", "password": "omskit-password",
                    "account_number": "950000001"},
    "default_service": "dhl_express_domestic", "timezone": "Europe/Rome",
}
UPS: dict[str, Any] = {
    "code": "karrio-ups", "carrier": "ups", "test_mode": True, "shipper": SHIPPER,
    "credentials": {"client_id": "client-id", "client_secret": "client-secret",
                    "account_number": "A1B2C3"},
    "default_service": "ups_standard", "timezone": "Europe/Rome",
}

#: DHL Express through the MyDHL REST API (API key and secret as username and password).
MYDHL: dict[str, Any] = {
    "code": "karrio-mydhl", "carrier": "mydhl", "test_mode": True, "shipper": SHIPPER,
    "credentials": {"username": "api-key", "password": "api-secret",
                    "account_number": "950000002"},
    "default_service": "mydhl_express_domestic", "timezone": "Europe/Rome",
}


def karrio_settings(*connections: dict[str, Any]) -> dict[str, Any]:
    """``bootstrap`` settings with these connections (copies)."""
    return {"carrier_karrio": {"connections": [copy.deepcopy(c) for c in connections]}}
