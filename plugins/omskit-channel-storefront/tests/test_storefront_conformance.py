"""The connector passes omskit's channel conformance suite, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from omskit.testing import ChannelConformance

import omskit_channel_storefront


class TestStorefrontConformance(ChannelConformance):
    """Every test of :class:`omskit.testing.ChannelConformance`, fed storefront payloads."""

    @pytest.fixture
    def channel_code(self) -> str:
        return "storefront"

    @pytest.fixture
    def channel_plugin(self) -> object:
        # The module is the plugin, exactly as the entry point registers it.
        return omskit_channel_storefront

    @pytest.fixture
    def valid_payloads(self, example_payload: dict[str, Any], minimal_payload: dict[str, Any],
                       pickup_payload: dict[str, Any]) -> list[dict[str, Any]]:
        return [example_payload, minimal_payload, pickup_payload]

    @pytest.fixture
    def invalid_payloads(self, minimal_payload: dict[str, Any]) -> list[dict[str, Any]]:
        def broken(**changes: Any) -> dict[str, Any]:
            return {**minimal_payload, **changes}

        return [
            {},
            broken(source="kiosk"),
            broken(items=[]),
            broken(items=[{"sku": "SKU-1", "quantity": "2", "unit_price": "5.00"}]),
            broken(items=[{"sku": "SKU-1", "quantity": 1, "unit_price": 5.0}]),
            broken(created_at="2026-11-26T08:00:00"),
            broken(fulfillment={"type": "drone"}),
            broken(shipping_address=None),
            broken(customer={"id": "cus_9"}),
            broken(unexpected="field"),
        ]

    @pytest.fixture
    def edit_payloads(self, example_edit: dict[str, Any]) -> list[dict[str, Any]]:
        pickup = {"edit_id": "APP-EDIT-2", "source": "mobile", "customer_id": "cus_123",
                  "order": {"source": "web", "id": "WEB-100045"},
                  "items": [{"line_id": "2", "quantity": 0}]}
        return [example_edit, pickup]

    @pytest.fixture
    def invalid_edit_payloads(self, example_edit: dict[str, Any]) -> list[dict[str, Any]]:
        def broken(**changes: Any) -> dict[str, Any]:
            return {**example_edit, **changes}

        return [
            {},
            broken(source="kiosk"),
            broken(items=[{"line_id": "1", "quantity": "3"}]),
            broken(items=[], add_items=[], shipping_address=None),
            broken(order={"source": "web"}),
            broken(add_items=[{"sku": "SKU-3", "quantity": 1, "unit_price": 24.5}]),
            broken(unexpected="field"),
        ]
