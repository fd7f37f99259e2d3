"""The installed distribution is found through its entry point and places real orders.

These tests need the distribution installed (``pip install -e plugins/omskit-channel-storefront``),
since entry points are read from installed metadata, not from the source tree.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from importlib.metadata import version
from typing import Any

import pytest
from omskit import (
    ENV_DISABLE_AUTOLOAD,
    ENV_DISABLED_PLUGINS,
    Coordinates,
    Oms,
    UnknownChannel,
    bootstrap,
)
from omskit.testing import location

DISTRIBUTION = "omskit-channel-storefront"


@pytest.fixture(autouse=True)
def _autoload_on(monkeypatch: pytest.MonkeyPatch) -> None:
    # An operator's (or tox's) switches would hide the very entry point under test.
    monkeypatch.delenv(ENV_DISABLE_AUTOLOAD, raising=False)
    monkeypatch.delenv(ENV_DISABLED_PLUGINS, raising=False)


def test_entry_point_contributes_the_channel() -> None:
    with bootstrap("sqlite://", load_entrypoints=True) as oms:
        assert oms.channel("storefront").code == "storefront"
        mine = [p for p in oms.plugins() if p.distribution == DISTRIBUTION]

    assert len(mine) == 1, "is the plugin pip-installed?"
    assert mine[0].name == "storefront"
    assert mine[0].version == version(DISTRIBUTION) == "0.1.0"
    assert mine[0].hooks == ("omskit_register_channels",)
    assert not mine[0].builtin


def test_operators_can_disable_it_by_name() -> None:
    with bootstrap("sqlite://", load_entrypoints=True, disabled_plugins=["storefront"]) as oms:
        with pytest.raises(UnknownChannel):
            oms.channel("storefront")
        assert all(p.distribution != DISTRIBUTION for p in oms.plugins())


@pytest.fixture
def shop(make_oms: Callable[..., Oms]) -> Oms:
    """An Oms with entry points loaded and SKU-1, SKU-2 stocked in Milan."""
    oms = make_oms(load_entrypoints=True)
    oms.inventory.save_location(location("dc-milan", 45.47, 9.19))
    for sku in ("SKU-1", "SKU-2"):
        oms.inventory.receive("dc-milan", sku, 10)
    return oms


def test_example_order_is_placed_and_stored(shop: Oms,
                                            example_payload: dict[str, Any]) -> None:
    placed = shop.channels.receive("storefront", example_payload)
    stored = shop.orders.get(placed.id)

    assert (stored.channel, stored.external_id) == ("web", "WEB-100045")
    assert stored.customer.contact.name == "Giulia Rossi"
    assert stored.customer.segment == "gold"
    assert stored.shipping_address is not None
    assert stored.shipping_address.coordinates == Coordinates(lat=45.4628, lon=9.1859)
    assert stored.billing_address is not None
    assert stored.billing_address.name == "Rossi Design S.r.l."
    assert [(line.line_id, line.sku, line.quantity, line.unit_price) for line in stored.lines] \
        == [("1", "SKU-1", 2, Decimal("19.90")), ("2", "SKU-2", 1, Decimal("149.00"))]
    assert stored.tags == ("black-friday", "gift")
    assert stored.metadata["note"] == ("Please ring twice.\n"
                                       "Leave with the concierge if nobody answers.")
    assert stored.metadata["attributes"] == {"utm_source": "newsletter", "gift_wrap": "yes"}
    # 10:15 at +01:00 is 09:15 UTC, whatever zone the database hands back.
    assert stored.placed_at == datetime(2026, 11, 25, 9, 15, tzinfo=UTC)
    assert not stored.active_holds


def test_same_id_from_web_and_app_are_two_orders(shop: Oms,
                                                 example_payload: dict[str, Any]) -> None:
    web = shop.channels.receive("storefront", example_payload)
    again = shop.channels.receive("storefront", example_payload)
    app = shop.channels.receive("storefront", {**example_payload, "source": "mobile"})

    assert again.id == web.id
    assert app.id != web.id
    assert app.channel == "mobile"
    assert len(shop.orders.search()) == 2
