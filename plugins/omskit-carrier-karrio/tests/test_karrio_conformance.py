"""Every connection kind passes omskit's carrier conformance kit, on SQLite and PostgreSQL:
karrio's generic carrier (labels rendered locally), and DHL Express (XML-PI and the MyDHL
API) and UPS at karrio's HTTP seam (their APIs answered by :class:`CarrierAPI`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from omskit import ShippingCarrier
from omskit.testing import CarrierConformance

import omskit_carrier_karrio
from carrier_api import CarrierAPI
from connections import DHL, GENERIC, MYDHL, UPS, karrio_settings
from omskit_carrier_karrio import KarrioCarrier, settings_of


def _carrier(settings: Mapping[str, Any], code: str) -> KarrioCarrier:
    connection = settings_of(settings).connection(code)
    assert connection is not None
    return KarrioCarrier(connection.code, connection.carrier, connection.capabilities)


class _Karrio(CarrierConformance):
    connection: dict[str, Any]

    @pytest.fixture
    def carrier_plugin(self) -> object:
        return omskit_carrier_karrio  # the module, as the entry point registers it

    @pytest.fixture
    def carrier_code(self) -> str:
        return str(self.connection["code"])

    @pytest.fixture
    def carrier_settings(self) -> Mapping[str, Any]:
        return karrio_settings(self.connection)

    @pytest.fixture
    def shipping_carrier(self, carrier_api: CarrierAPI,
                         carrier_settings: Mapping[str, Any]) -> ShippingCarrier:
        return _carrier(carrier_settings, self.carrier_code_value)  # type: ignore[return-value]

    @property
    def carrier_code_value(self) -> str:
        return str(self.connection["code"])


class TestGenericConformance(_Karrio):
    """karrio's generic carrier: every label rendered on this machine."""

    connection = GENERIC


class TestDhlExpressConformance(_Karrio):
    """DHL Express through karrio, its XML-PI answered at karrio's HTTP seam."""

    connection = DHL


class TestUpsConformance(_Karrio):
    """UPS through karrio (OAuth, then REST), answered at karrio's HTTP seam."""

    connection = UPS


class TestMyDhlConformance(_Karrio):
    """DHL Express through karrio's MyDHL extension (REST), answered at karrio's HTTP seam."""

    connection = MYDHL
