"""The table-rate carrier passes omskit's carrier conformance kit, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from omskit import ShippingCarrier, TrackingUpdate
from omskit.testing import CarrierConformance, Webhook

import omskit_carrier_tablerate
from omskit_carrier_tablerate import TableRateCarrier


class TestTableRateConformance(CarrierConformance):
    """Every test of :class:`omskit.testing.CarrierConformance`."""

    @pytest.fixture
    def carrier_plugin(self) -> object:
        return omskit_carrier_tablerate  # the module, as the entry point registers it

    @pytest.fixture
    def carrier_code(self) -> str:
        return "tablerate"

    @pytest.fixture
    def shipping_carrier(self) -> ShippingCarrier:
        return TableRateCarrier()

    @pytest.fixture
    def carrier_settings(self, settings: dict[str, Any]) -> Mapping[str, Any]:
        return settings

    @pytest.fixture
    def webhook(self, settings: dict[str, Any]) -> Webhook:
        def signed(carrier: ShippingCarrier,
                   updates: Sequence[TrackingUpdate]) -> tuple[dict[str, str], bytes]:
            assert isinstance(carrier, TableRateCarrier)
            return carrier.webhook(updates, settings)

        return signed
