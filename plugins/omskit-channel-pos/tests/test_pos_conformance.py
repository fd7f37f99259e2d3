"""The connector passes omskit's channel conformance suite, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from omskit.testing import ChannelConformance

from omskit_channel_pos import PosChannel


class TestPosConformance(ChannelConformance):
    """Every test of :class:`omskit.testing.ChannelConformance`, fed till sales."""

    @pytest.fixture
    def channel_code(self) -> str:
        return "pos"

    @pytest.fixture
    def channel_plugin(self) -> object:
        return PosChannel({"till-1": "conformance-dc"})

    @pytest.fixture
    def valid_payloads(self, sale: dict[str, Any]) -> list[dict[str, Any]]:
        shipped = {**sale, "receipt": "R-2", "mode": "ship",
                   "customer": {"id": "cus-7", "name": "Giulia Rossi"},
                   "shipping_address": {"line1": "Via Roma 1", "city": "Torino",
                                        "country": "IT"}}
        collect = {**sale, "receipt": "R-3", "mode": "collect", "payments": []}
        return [sale, shipped, collect]

    @pytest.fixture
    def invalid_payloads(self, sale: dict[str, Any]) -> list[dict[str, Any]]:
        def broken(**changes: Any) -> dict[str, Any]:
            return {**sale, **changes}

        return [
            {},
            broken(till="till-9"),
            broken(receipt=""),
            broken(mode="layaway"),
            broken(items=[]),
            broken(items=[{"sku": "SKU-1", "quantity": "2", "unit_price": "19.90"}]),
            broken(payments=[{"method": "card", "amount": 39.8}]),
            broken(mode="ship"),
            broken(shipping_address={"line1": "Via Roma 1", "city": "Torino", "country": "IT"}),
            broken(sold_at="2026-12-04 17:30"),
            broken(currency="EURO"),
            broken(voucher="X"),
        ]
