"""omskit's limits, the same on SQLite and PostgreSQL, each enforced by a typed error before
anything reaches the driver (issue 9, item 10; ``docs/embedding.md``, "Limits"; the bug table
of ``docs/reliability.md``). Each test failed on the code before its fix: a value was
accepted, rounded, or failed raw on one database only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import omskit_channel_storefront
import pytest

from omskit import Oms
from omskit.domain.commands import NewLine
from omskit.domain.errors import InvalidCommand, PayloadError
from omskit.testing import location, order_command, table_contents
from tests.support import MILAN


@pytest.fixture
def shop(make_oms: Callable[..., Oms]) -> Oms:
    """One location with stock of SKU-1, and the storefront connector."""
    oms = make_oms(plugins=[omskit_channel_storefront])
    oms.inventory.save_location(location("milan", *MILAN))
    oms.inventory.receive("milan", "SKU-1", 10)
    return oms


def refused(oms: Oms, call: Callable[[], Any], error: type[Exception] = InvalidCommand
            ) -> Exception:
    """Run ``call``: it must raise ``error`` and change no row of any table."""
    before = table_contents(oms)
    with pytest.raises(error) as caught:
        call()
    assert table_contents(oms) == before
    return caught.value


def storefront_payload(external_id: str, **changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": external_id, "source": "web", "created_at": "2026-11-25T10:15:00+01:00",
        "currency": "EUR", "customer": {"id": "cus_1"},
        "shipping_address": {"line1": "Via Torino 12", "city": "Milano", "country": "IT"},
        "fulfillment": {"type": "ship"},
        "items": [{"sku": "SKU-1", "quantity": 1, "unit_price": "19.90"}]}
    payload.update(changes)
    return payload


# -- money -------------------------------------------------------------------------------------


def test_prices_are_stored_in_the_currency_s_minor_units_and_totals_are_exact(
        shop: Oms) -> None:
    lines = [NewLine(sku="SKU-1", quantity=1, unit_price="999999999999.99"),
             NewLine(sku="SKU-1", quantity=2, unit_price="19.9")]
    order = shop.orders.place(attrs.evolve(order_command("M-1", {"SKU-1": 1}), lines=lines))
    stored = shop.orders.get(order.id)
    assert [str(x.unit_price) for x in stored.lines] == ["999999999999.99", "19.90"]
    assert str(stored.total.amount) == "1000000000039.79"
    assert str(shop.orders.search()[0].total) == "1000000000039.79"
    yen = shop.orders.place(order_command("M-2", {"SKU-1": 3}, currency="JPY",
                                          unit_price="1500"))
    assert str(shop.orders.get(yen.id).total.amount) == "4500"


@pytest.mark.parametrize(("currency", "price"), [("ZZZ", "10.00"), ("JPY", "100.5"),
                                                 ("EUR", "0." + "1" * 50)])
def test_unknown_currencies_and_extra_decimals_are_refused(shop: Oms, currency: str,
                                                           price: str) -> None:
    # Before: all three were accepted; the 52-character price then failed raw on
    # PostgreSQL (VARCHAR(48)) and was stored on SQLite.
    refused(shop, lambda: shop.orders.place(
        order_command("M-3", {"SKU-1": 1}, currency=currency, unit_price=price)))
    payload = storefront_payload("M-4", currency=currency)
    payload["items"][0]["unit_price"] = price
    refused(shop, lambda: shop.channels.receive("storefront", payload), PayloadError)
