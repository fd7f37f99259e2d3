"""Every write is a command (issue 9, item 3): ``oms.execute`` runs a command by its handler,
``oms.command(name, payload)`` builds one from JSON, on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from omskit import Oms
from omskit.domain import commands as c
from omskit.domain.errors import InvalidCommand
from omskit.domain.inventory import SupplyStatus
from omskit.domain.lifecycle import OrderStatus
from omskit.services.commands import HANDLERS
from omskit.testing import location, order_command, table_contents
from tests.support import MILAN


@pytest.fixture
def shop(oms: Oms) -> Oms:
    oms.inventory.save_location(location("DC1", *MILAN))
    oms.inventory.save_location(location("DC2", *MILAN))
    oms.inventory.receive("DC1", "SKU-1", 10)
    return oms


def test_every_command_has_a_name_and_a_handler() -> None:
    assert set(c.COMMANDS.values()) == set(HANDLERS)
    assert all(name == cls.name for name, cls in c.COMMANDS.items())
    # Every concrete command class the package defines is registered under its name.
    defined = {cls for cls in vars(c).values()
               if isinstance(cls, type) and issubclass(cls, c.Command) and cls is not c.Command
               and getattr(cls, "name", None)}
    assert defined == set(c.COMMANDS.values())


def test_execute_refuses_what_is_not_a_command(shop: Oms) -> None:
    before = table_contents(shop)
    with pytest.raises(InvalidCommand, match="not a command"):
        shop.execute({"location": "DC1"})  # type: ignore[arg-type]
    assert table_contents(shop) == before


def test_commands_from_json_run_like_the_service_methods(shop: Oms) -> None:
    item = shop.execute(shop.command("receive_stock", {
        "location": "DC1", "sku": "SKU-1", "quantity": 5, "reference": "po-7",
        "idempotency_key": "rcv-1"}))
    assert (item.on_hand, item.reserved) == (15, 0)
    again = shop.execute(shop.command("receive_stock", {
        "location": "DC1", "sku": "SKU-1", "quantity": 5, "idempotency_key": "rcv-1"}))
    assert again.on_hand == 15  # the key was seen: nothing moved

    item = shop.execute(shop.command("adjust_stock", {
        "location": "DC1", "sku": "SKU-1", "delta": -3, "reason": "count"}))
    assert item.on_hand == 12

    supply = shop.execute(shop.command("register_supply", {
        "location": "DC2", "sku": "SKU-1", "quantity": 4,
        "eta": "2030-01-01T10:00:00+01:00", "kind": "production"}))
    assert supply.eta == datetime(2030, 1, 1, 9, tzinfo=UTC)
    assert supply.kind.value == "production"
    received = shop.execute(shop.command("receive_supply", {"supply_id": supply.id}))
    assert received.status is SupplyStatus.RECEIVED
    assert shop.inventory.stock_item("DC2", "SKU-1").on_hand == 4  # type: ignore[union-attr]

    saved = shop.execute(shop.command("save_location", {"location": {
        "code": "ST-1", "name": "Store 1", "kind": "store", "handling_cost": "0.25",
        "coordinates": {"lat": 45.0, "lon": 9.0}, "capabilities": ["ship", "pickup"],
        "cutoff": "14:30", "groups": ["stores"]}}))
    assert shop.inventory.location("ST-1") == saved

    order = shop.orders.place(order_command("E-1", {"SKU-1": 2}))
    held = shop.execute(shop.command("place_hold", {
        "order_id": order.id, "code": "fraud", "reason": "review"}))
    assert held.holds
    shop.execute(shop.command("release_hold", {"order_id": order.id, "code": "fraud"}))
    cancelled = shop.execute(shop.command("cancel_order", {"order_id": order.id,
                                                          "reason": "customer"}))
    assert cancelled.status is OrderStatus.CANCELLED

    hold = shop.execute(shop.command("hold_cart", {
        "cart_id": "cart-1", "channel": "web", "lines": [{"sku": "SKU-1", "quantity": 2}],
        "ttl": 600}))
    assert sum(r.quantity for r in hold.held) == 2
    assert shop.execute(shop.command("release_cart", {"cart_id": "cart-1"})) == 2


def test_a_transfer_with_an_idempotency_key_moves_once(shop: Oms) -> None:
    command = shop.command("transfer_stock", {
        "sku": "SKU-1", "from_location": "DC1", "to_location": "DC2", "quantity": 3,
        "idempotency_key": "tr-1"})
    assert shop.execute(command) is None
    assert shop.execute(command) is None
    assert shop.inventory.transfer("SKU-1", "DC1", "DC2", 3, idempotency_key="tr-1") is None
    assert shop.inventory.stock_item("DC1", "SKU-1").on_hand == 7  # type: ignore[union-attr]
    assert shop.inventory.stock_item("DC2", "SKU-1").on_hand == 3  # type: ignore[union-attr]
    assert shop.inventory.ledger_mismatches() == []


def test_an_in_transit_transfer_repeated_returns_the_same_supply(shop: Oms) -> None:
    eta = datetime(2030, 1, 2, tzinfo=UTC)
    first = shop.inventory.transfer("SKU-1", "DC1", "DC2", 4, eta=eta, idempotency_key="t")
    again = shop.execute(c.TransferStock(sku="SKU-1", from_location="DC1",
                                         to_location="DC2", quantity=4, eta=eta,
                                         idempotency_key="t"))
    assert first is not None
    assert again == first
    assert shop.inventory.stock_item("DC1", "SKU-1").on_hand == 6  # type: ignore[union-attr]
    assert len(shop.inventory.stock("SKU-1").positions) == 2
    # Without a key each call is a new transfer.
    shop.inventory.transfer("SKU-1", "DC1", "DC2", 1)
    shop.inventory.transfer("SKU-1", "DC1", "DC2", 1)
    assert shop.inventory.stock_item("DC1", "SKU-1").on_hand == 4  # type: ignore[union-attr]


MALFORMED: list[tuple[Any, Any, str]] = [
    ("receive_stock", {"location": "DC1", "sku": "SKU-1", "quantity": "5"}, "quantity"),
    ("receive_stock", {"location": "DC1", "sku": 7, "quantity": 5}, "sku"),
    ("receive_stock", {"location": "DC1", "sku": "SKU-1", "quantity": 1.5}, "quantity"),
    ("receive_stock", {"location": "DC1", "sku": "SKU-1", "quantity": 5, "qty": 5}, "qty"),
    ("receive_stock", {"location": "DC1", "sku": "SKU-1"}, "quantity"),
    ("receive_stock", ["DC1", "SKU-1", 5], "payload"),
    ("receive_stok", {"location": "DC1", "sku": "SKU-1", "quantity": 5}, "name"),
    (None, {}, "name"),
    ("adjust_stock", {"location": "DC1", "sku": "SKU-1", "delta": 0, "reason": "x"}, "delta"),
    ("transfer_stock", {"sku": "SKU-1", "from_location": "DC1", "to_location": "DC1",
                        "quantity": 1}, "to_location"),
    ("transfer_stock", {"sku": "SKU-1", "from_location": "DC1", "to_location": "DC2",
                        "quantity": 1, "eta": "2030-01-01T00:00:00"}, "eta"),
    ("transfer_stock", {"sku": "SKU-1", "from_location": "DC1", "to_location": "DC2",
                        "quantity": 1, "eta": "tomorrow"}, "eta"),
    ("register_supply", {"location": "DC1", "sku": "SKU-1", "quantity": 1,
                         "eta": "2030-01-01T00:00:00Z", "kind": "gift"}, "kind"),
    ("save_location", {"location": {"code": "X1", "name": "X", "kind": "warehouse",
                                    "handling_cost": "lots"}}, "handling_cost"),
    ("save_location", {"location": {"code": "X1", "name": "X", "kind": "warehouse",
                                    "colour": "red"}}, "colour"),
    ("save_location", {"location": {"code": "X1", "name": "X", "kind": "warehouse",
                                    "active": "no"}}, "active"),
    ("hold_cart", {"cart_id": "c", "channel": "web", "lines": [{"sku": "SKU-1",
                                                                "quantity": 1}],
                   "ttl": "PT5M"}, "ttl"),
    ("cancel_lines", {"order_id": "o", "quantities": {"1": 0}}, "quantities"),
    ("ship_fulfillment_order", {"fulfillment_order_id": "f", "carrier": "ups"},
     "tracking_number"),
    ("expire_carts", {"now": 1893456000}, "now"),
]


@pytest.mark.parametrize(("name", "payload", "field"), MALFORMED)
def test_malformed_payloads_are_invalid_commands_and_write_nothing(
        shop: Oms, name: Any, payload: Any, field: str) -> None:
    before = table_contents(shop)
    with pytest.raises(InvalidCommand) as caught:
        shop.execute(shop.command(name, payload))
    assert any(p.startswith(field) or f"{field}:" in p or f"'{field}'" in p
               for p in caught.value.problems), caught.value.problems
    assert table_contents(shop) == before


def test_a_supply_registered_with_an_idempotency_key_is_registered_once(shop: Oms) -> None:
    eta = datetime(2030, 1, 2, tzinfo=UTC)
    first = shop.inventory.register_supply("DC2", "SKU-1", 6, eta, idempotency_key="po-1")
    again = shop.execute(shop.command("register_supply", {
        "location": "DC2", "sku": "SKU-1", "quantity": 6, "eta": "2030-01-02T00:00:00Z",
        "idempotency_key": "po-1"}))
    assert again == first
    other = shop.inventory.register_supply("DC2", "SKU-1", 6, eta, idempotency_key="po-2")
    assert other.id != first.id
    incoming = [i.quantity for p in shop.inventory.stock("SKU-1").positions
                for i in p.incoming]
    assert incoming == [6, 6]  # po-1 once, po-2 once


def test_an_order_placed_from_json(shop: Oms) -> None:
    payload = {
        "channel": "web", "external_id": "J-1", "currency": "EUR",
        "customer": {"id": "c-1", "contact": {"name": "Ada", "email": "ada@example.com"}},
        "lines": [{"sku": "SKU-1", "quantity": 2, "unit_price": "9.90"}],
        "shipping_address": {"line1": "Via Roma 1", "city": "Milano", "country": "IT",
                             "coordinates": {"lat": MILAN[0], "lon": MILAN[1]}},
        "placed_at": "2026-01-01T10:00:00+01:00", "metadata": {"basket": [1, 2]},
    }
    command = shop.command("place_order", payload)
    assert command == shop.command("place_order", dict(payload))
    order = shop.execute(command)
    assert order.status is OrderStatus.ALLOCATED
    assert shop.execute(command).id == order.id  # idempotent on (channel, external_id)
    before = table_contents(shop)
    with pytest.raises(InvalidCommand, match="unit_price"):
        shop.command("place_order", {**payload, "external_id": "J-2",
                                     "lines": [{"sku": "SKU-1", "quantity": 1,
                                                "unit_price": "cheap"}]})
    assert table_contents(shop) == before
