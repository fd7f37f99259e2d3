"""Dropship in the core: the supplier conformance kit on an in-memory supplier, and the
edges the kit does not reach (on SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

import omskit
from omskit import (
    FulfillmentStatus,
    LocationKind,
    ManualCarriers,
    Oms,
    PurchaseOrderStatus,
    ShipNotice,
    ShipNoticeLine,
    StockFeed,
    StockLevel,
    SupplierConnector,
    SupplierResponse,
    SupplierResponseKind,
    SupplierUnavailable,
    hookimpl,
)
from omskit.testing import (
    MemorySupplier,
    SupplierConformance,
    location,
    order_command,
    table_contents,
)

SUPPLIER = "sup-acme"


class MemorySupplierPlugin:
    def __init__(self, connector: SupplierConnector) -> None:
        self.connector = connector

    @hookimpl
    def omskit_register_suppliers(self, register: Callable[[SupplierConnector], None]) -> None:
        register(self.connector)


class TestMemorySupplier(SupplierConformance):
    @pytest.fixture
    def supplier_code(self) -> str:
        return SUPPLIER

    @pytest.fixture
    def memory(self) -> MemorySupplier:
        return MemorySupplier(SUPPLIER)

    @pytest.fixture
    def supplier_plugin(self) -> object:
        return MemorySupplierPlugin(MemorySupplier(SUPPLIER))

    @pytest.fixture
    def supplier_connector(self, memory: MemorySupplier) -> MemorySupplier:
        return memory

    @pytest.fixture
    def supplier_desk(self, memory: MemorySupplier) -> MemorySupplier:
        return memory


class Flaky(MemorySupplier):
    """Down until told otherwise."""

    down = True

    def send_purchase_order(self, document: omskit.PurchaseOrderDocument,
                            settings: object) -> str:  # type: ignore[override]
        if self.down:
            raise SupplierUnavailable(self.code, "connection refused")
        return super().send_purchase_order(document, {})


@pytest.fixture
def memory() -> MemorySupplier:
    return MemorySupplier(SUPPLIER)


@pytest.fixture
def shop(make_oms: Callable[..., Oms], memory: MemorySupplier) -> Oms:
    oms = make_oms(plugins=[MemorySupplierPlugin(memory), ManualCarriers("brt")])
    oms.inventory.save_location(location(SUPPLIER, 45.07, 7.69, country="IT",
                                         kind=LocationKind.SUPPLIER))
    oms.inventory.save_location(location("dc-napoli", 40.85, 14.27, country="IT"))
    for where in (SUPPLIER, "dc-napoli"):
        oms.inventory.receive(where, "SKU-1", 10)
        oms.inventory.receive(where, "SKU-2", 10)
    return oms


def _released(oms: Oms, lines: dict[str, int]) -> tuple[str, str]:
    order = oms.orders.place(order_command("DS-1", lines, lat=45.07, lon=7.69))
    oms.fulfillment.release(order.id)
    po = oms.dropship.for_fulfillment_order(order.fulfillment_orders[0].id)
    assert po is not None
    return order.id, po.id


def test_a_warehouse_release_makes_no_purchase_order(shop: Oms) -> None:
    order = shop.orders.place(order_command("W-1", {"SKU-1": 1}, lat=40.85, lon=14.27))
    shop.fulfillment.release(order.id)
    assert order.fulfillment_orders[0].location == "dc-napoli"
    assert shop.dropship.purchase_orders() == []


def test_a_supplier_ships_part_of_a_two_line_order_by_sku(shop: Oms,
                                                          memory: MemorySupplier) -> None:
    order_id, po_id = _released(shop, {"SKU-1": 2, "SKU-2": 3})
    notice = ShipNotice(message_id="asn-1", purchase_order_id=po_id,
                        lines=(ShipNoticeLine(sku="SKU-2", quantity=3),),
                        carrier="brt", tracking_number="BRT-77")
    shop.dropship.receive_ship_notice(SUPPLIER, notice)
    shop.dropship.receive_ship_notice(SUPPLIER, notice)  # a duplicate: nothing twice
    order = shop.orders.get(order_id)
    (fo,) = order.fulfillment_orders
    assert fo.status is FulfillmentStatus.PACKED
    (shipment,) = fo.shipments
    assert [(x.sku, x.quantity) for x in shipment.lines] == [("SKU-2", 3)]
    assert {x.sku: q for x in fo.lines for k, q in fo.unshipped().items()
            if x.line_id == k} == {"SKU-1": 2}
    assert shop.dropship.get(po_id).status is PurchaseOrderStatus.PARTIALLY_SHIPPED
    # The shipment is tracked like any other: its carrier's events deliver it.
    tracked = shop.shipping.record_tracking("brt", [omskit.TrackingUpdate(
        tracking_number="BRT-77", status=omskit.TrackingStatus.DELIVERED,
        occurred_at=shipment.shipped_at, event_id="brt-1")])  # type: ignore[arg-type]
    assert tracked.applied == 1


def test_an_unknown_carrier_or_another_suppliers_order_is_refused(shop: Oms) -> None:
    _, po_id = _released(shop, {"SKU-1": 2})
    before = table_contents(shop)
    with pytest.raises(omskit.UnknownShippingCarrier):
        shop.dropship.receive_ship_notice(SUPPLIER, ShipNotice(
            message_id="asn-1", purchase_order_id=po_id,
            lines=(ShipNoticeLine(sku="SKU-1", quantity=1),), carrier="bart",
            tracking_number="X"))
    with pytest.raises(omskit.UnknownSupplier):
        shop.dropship.receive_response("sup-other", SupplierResponse(
            message_id="m", purchase_order_id=po_id, kind=SupplierResponseKind.REFUSED))
    blank = ShipNotice(message_id="asn-2", purchase_order_id=po_id,
                       lines=(ShipNoticeLine(sku="SKU-1", quantity=1),), carrier="brt",
                       tracking_number=" ")
    with pytest.raises(omskit.InvalidCommand):  # the command refuses a blank number
        shop.dropship.receive_ship_notice(SUPPLIER, blank)
    assert table_contents(shop) == before


def test_a_refusal_after_an_acknowledgement_is_refused(shop: Oms) -> None:
    order_id, po_id = _released(shop, {"SKU-1": 2})
    shop.dropship.receive_response(SUPPLIER, SupplierResponse(
        message_id="ack", purchase_order_id=po_id, kind=SupplierResponseKind.ACKNOWLEDGED))
    with pytest.raises(omskit.InvalidCommand):
        shop.dropship.receive_response(SUPPLIER, SupplierResponse(
            message_id="no", purchase_order_id=po_id, kind=SupplierResponseKind.REFUSED))
    assert shop.orders.get(order_id).fulfillment_orders[0].status is FulfillmentStatus.ACCEPTED


def test_a_supplier_down_is_sent_to_by_the_next_poll(make_oms: Callable[..., Oms]) -> None:
    flaky = Flaky(SUPPLIER)
    oms = make_oms(plugins=[MemorySupplierPlugin(flaky)])
    oms.inventory.save_location(location(SUPPLIER, 45.07, 7.69, country="IT",
                                         kind=LocationKind.SUPPLIER))
    oms.inventory.receive(SUPPLIER, "SKU-1", 5)
    _, po_id = _released(oms, {"SKU-1": 1})
    po = oms.dropship.get(po_id)
    assert po.status is PurchaseOrderStatus.PENDING
    assert "connection refused" in po.error
    flaky.down = False
    assert oms.dropship.poll()[0].sent == 1
    assert oms.dropship.get(po_id).status is PurchaseOrderStatus.SENT
    assert len(flaky.received()) == 1


def test_stock_feed_commands_from_json(shop: Oms) -> None:
    command = shop.command("receive_stock_feed", {
        "supplier": SUPPLIER,
        "feed": {"message_id": "f-1", "levels": [{"sku": "SKU-1", "quantity": 4}]}})
    assert shop.execute(command) == ["SKU-1"]
    assert shop.inventory.stock_item(SUPPLIER, "SKU-1").on_hand == 4
    assert shop.execute(command) == []
    negative = StockFeed(message_id="f-2", levels=(StockLevel(sku="SKU-1", quantity=-1),))
    with pytest.raises(omskit.InvalidCommand):
        shop.dropship.receive_stock_feed(SUPPLIER, negative)
    with pytest.raises(omskit.InvalidCommand):
        shop.command("receive_stock_feed", {
            "supplier": SUPPLIER,
            "feed": {"message_id": "f-2", "levels": [{"sku": "SKU-1", "quantity": -1}]}})


class Counting(Flaky):
    """Counts sends; slow enough for callers to overlap."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.calls = 0
        self.lock = threading.Lock()

    def send_purchase_order(self, document: omskit.PurchaseOrderDocument,
                            settings: object) -> str:  # type: ignore[override]
        with self.lock:
            self.calls += 1
        reference = super().send_purchase_order(document, settings)
        time.sleep(0.05)  # the supplier's round trip: the other callers find the claim
        return reference


def test_a_purchase_order_is_sent_once_under_concurrent_calls(
        make_oms: Callable[..., Oms]) -> None:
    counting = Counting(SUPPLIER)
    oms = make_oms(plugins=[MemorySupplierPlugin(counting)])
    oms.inventory.save_location(location(SUPPLIER, 45.07, 7.69, country="IT",
                                         kind=LocationKind.SUPPLIER))
    oms.inventory.receive(SUPPLIER, "SKU-1", 5)
    _, po_id = _released(oms, {"SKU-1": 1})  # the supplier is down: pending
    counting.down = False
    calls_before = counting.calls
    outcomes: list[str] = []

    def send() -> None:
        try:
            outcomes.append(oms.dropship.send(po_id).status.value)
        except omskit.PurchaseOrderSendInProgress:
            outcomes.append("in progress")

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counting.calls - calls_before == 1
    assert len(counting.received()) == 1
    assert set(outcomes) <= {"sent", "in progress"}
    assert "sent" in outcomes
    assert oms.dropship.get(po_id).status is PurchaseOrderStatus.SENT
