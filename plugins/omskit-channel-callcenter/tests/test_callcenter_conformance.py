"""The connector passes omskit's channel conformance suite, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from omskit.testing import ChannelConformance

import omskit_channel_callcenter


class TestCallCenterConformance(ChannelConformance):
    """Every test of :class:`omskit.testing.ChannelConformance`, edits included."""

    @pytest.fixture
    def channel_code(self) -> str:
        return "callcenter"

    @pytest.fixture
    def channel_plugin(self) -> object:
        return omskit_channel_callcenter

    @pytest.fixture
    def valid_payloads(self, order_payload: dict[str, Any]) -> list[dict[str, Any]]:
        pickup = {**order_payload, "ref": "CC-1002", "pickup_at": "conformance-dc"}
        del pickup["shipping_address"]
        return [order_payload, pickup]

    @pytest.fixture
    def invalid_payloads(self, order_payload: dict[str, Any]) -> list[dict[str, Any]]:
        def broken(**changes: Any) -> dict[str, Any]:
            return {**order_payload, **changes}

        no_address = dict(order_payload)
        del no_address["shipping_address"]
        return [{}, broken(agent=""), broken(items=[]), broken(currency="EURO"),
                broken(items=[{"sku": "SKU-1", "quantity": 1, "unit_price": 1.5}]),
                broken(placed_at="yesterday"), broken(channel="web"), no_address,
                broken(pickup_at="conformance-dc")]

    @pytest.fixture
    def edit_payloads(self, edit_payload: dict[str, Any]) -> list[dict[str, Any]]:
        return [edit_payload,
                {"edit_ref": "CC-E-2", "agent": "anna",
                 "order": {"channel": "callcenter", "id": "CC-1001"},
                 "shipping_address": {"line1": "Corso Francia 9", "city": "Torino",
                                      "country": "IT"}}]

    @pytest.fixture
    def invalid_edit_payloads(self, edit_payload: dict[str, Any]) -> list[dict[str, Any]]:
        def broken(**changes: Any) -> dict[str, Any]:
            return {**edit_payload, **changes}

        return [{}, broken(agent=None), broken(order={"channel": "web"}),
                broken(items=[{"line_id": "1", "quantity": -1}]),
                {"edit_ref": "E-3", "agent": "anna",
                 "order": {"channel": "callcenter", "id": "CC-1001"}},
                broken(order_version="3"), broken(reason="customer asked")]
