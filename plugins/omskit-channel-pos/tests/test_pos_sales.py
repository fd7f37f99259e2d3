"""Till sales end to end, on SQLite and PostgreSQL: carried out, shipped from elsewhere,
reserved for collection, paid at the till, and replayed after an offline spell."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from omskit import (
    DeliveryKind,
    FulfillmentStatus,
    IdempotencyConflict,
    InvalidSettings,
    Oms,
    OrderStatus,
    PayloadError,
)
from omskit.testing import table_contents

import omskit_channel_pos
from omskit_channel_pos import record_sale, replay


def on_hand(oms: Oms, location: str, sku: str) -> tuple[int, int]:
    item = oms.inventory.stock_item(location, sku)
    assert item is not None
    return item.on_hand, item.reserved


def test_a_carried_out_sale_completes_at_the_till_and_consumes_the_stores_stock(
        store: Oms, sale: dict[str, Any]) -> None:
    done = record_sale(store, sale)
    assert done.created
    assert done.handed_over
    order = store.orders.get(done.order.id)
    assert order.status is OrderStatus.COMPLETED
    assert (order.channel, order.external_id) == ("pos", "till-1:R-000123")
    assert [fo.location for fo in order.fulfillment_orders] == ["store-milano"]
    assert on_hand(store, "store-milano", "SKU-1") == (3, 0)
    assert on_hand(store, "dc-torino", "SKU-1") == (50, 0)
    assert order.metadata["cashier"] == "anna"


def test_payment_at_the_till_is_captured_funds_in_the_ledger(
        store: Oms, sale: dict[str, Any]) -> None:
    order = record_sale(store, sale).order
    summary = store.payments.summary(order.id)
    assert summary.captured.amount == Decimal("39.80")
    assert summary.balance.amount == Decimal("0.00")
    (ledger,) = summary.transactions
    assert ledger.transaction.provider_reference == "till-1:R-000123:card:auth-5512"


def test_an_endless_aisle_sale_ships_from_elsewhere(store: Oms, sale: dict[str, Any]) -> None:
    sale.update(mode="ship", receipt="R-2",
                items=[{"sku": "SKU-2", "quantity": 8, "unit_price": "5.00"}],
                payments=[{"method": "cash", "amount": "40.00"}],
                shipping_address={"line1": "Via Po 3", "city": "Torino", "country": "IT"})
    done = record_sale(store, sale)
    assert not done.handed_over
    order = done.order
    assert order.delivery.kind is DeliveryKind.SHIP
    assert order.status is OrderStatus.ALLOCATED
    assert [fo.location for fo in order.fulfillment_orders] == ["dc-torino"]
    assert on_hand(store, "store-milano", "SKU-2") == (5, 0)


def test_a_sale_reserved_for_collection_waits_at_the_store(
        store: Oms, sale: dict[str, Any]) -> None:
    sale.update(mode="collect", receipt="R-3", payments=[])
    order = record_sale(store, sale).order
    assert order.delivery.pickup_location == "store-milano"
    assert [(fo.location, fo.status) for fo in order.fulfillment_orders] == [
        ("store-milano", FulfillmentStatus.CREATED)]
    assert on_hand(store, "store-milano", "SKU-1") == (5, 2)
    paid = omskit_channel_pos.pay_at_collection(store, order.id, Decimal("39.80"),
                                                receipt="R-3-collect")
    again = omskit_channel_pos.pay_at_collection(store, order.id, Decimal("39.80"),
                                                 receipt="R-3-collect")
    assert paid.captured.amount == again.captured.amount == Decimal("39.80")


def test_an_offline_tills_queue_creates_each_sale_once(
        store: Oms, sale: dict[str, Any]) -> None:
    first = record_sale(store, sale)  # sent before the connection dropped
    queue = [sale, {**sale, "receipt": "R-000124"}, {**sale, "receipt": "R-000125"}]
    replayed = replay(store, queue)
    assert [s.created for s in replayed] == [False, True, True]
    assert replayed[0].order.id == first.order.id
    assert len(store.orders.search(channel="pos")) == 3
    # Five on the shelf in omskit's books, six sold: the third sale is recorded and waits
    # for the unit the Torino DC sends the store (ship-to-store); it is not handed over.
    assert [s.handed_over for s in replayed] == [True, True, False]
    waiting = replayed[2].order
    assert waiting.status is not OrderStatus.COMPLETED
    (at_store,) = [fo for fo in waiting.fulfillment_orders if fo.location == "store-milano"]
    (transfer,) = store.pickups.transfers(at_store.id)
    assert transfer.location == "store-milano"
    before = table_contents(store)
    replay(store, queue)  # the whole queue again: nothing changes
    assert table_contents(store) == before
    # The unit arrives: the till's next replay hands the sale over.
    store.inventory.receive_supply(transfer.id)
    assert [s.handed_over for s in replay(store, queue)] == [True, True, True]
    assert on_hand(store, "store-milano", "SKU-1") == (0, 0)


def test_a_replay_finishes_a_hand_over_interrupted_half_way(
        store: Oms, sale: dict[str, Any]) -> None:
    order = store.channels.receive("pos", sale)  # placed, then the till crashed
    store.fulfillment.release(order.id)
    store.fulfillment.accept(order.fulfillment_orders[0].id)
    done = record_sale(store, sale)
    assert not done.created
    assert done.order.status is OrderStatus.COMPLETED
    assert on_hand(store, "store-milano", "SKU-1") == (3, 0)


def test_a_receipt_sent_again_with_other_content_is_refused_and_writes_nothing(
        store: Oms, sale: dict[str, Any]) -> None:
    record_sale(store, sale)
    before = table_contents(store)
    with pytest.raises(IdempotencyConflict):
        record_sale(store, {**sale, "items": [{"sku": "SKU-2", "quantity": 1,
                                               "unit_price": "1.00"}]})
    assert table_contents(store) == before


def test_an_unknown_till_is_refused_and_writes_nothing(store: Oms, sale: dict[str, Any]) -> None:
    before = table_contents(store)
    with pytest.raises(PayloadError) as caught:
        record_sale(store, {**sale, "till": "till-9"})
    assert caught.value.problems == (
        "till: 'till-9' is not a till of this deployment (settings pos.tills)",)
    assert table_contents(store) == before


def test_tills_come_from_the_bootstrap_settings(make_oms: Callable[..., Oms],
                                                sale: dict[str, Any]) -> None:
    oms = make_oms(plugins=[omskit_channel_pos],
                   settings={"pos": {"tills": {"till-1": "store-milano"}}})
    assert oms.channels.parse("pos", sale).metadata["store"] == "store-milano"
    with pytest.raises(InvalidSettings):
        make_oms(plugins=[omskit_channel_pos], settings={"pos": {"tills": {"till-1": 7}}})
