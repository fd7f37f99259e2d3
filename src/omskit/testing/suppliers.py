"""The supplier connector conformance kit: what every ``SupplierConnector`` plugin must pass.

Also :class:`MemorySupplier`, a connector and supplier desk in memory, for hosts' tests.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, Protocol

import pytest

from omskit import (
    FulfillmentStatus,
    LocationKind,
    ManualCarriers,
    Oms,
    OrderStatus,
    PurchaseOrderDocument,
    PurchaseOrderStatus,
    ShipNotice,
    ShipNoticeExceedsOrder,
    ShipNoticeLine,
    StockFeed,
    StockItem,
    StockLevel,
    SupplierConnector,
    SupplierOutcomeUnknown,
    SupplierResponse,
    SupplierResponseKind,
    hookimpl,
)
from omskit.testing.builders import location, order_command, table_contents

#: A fault the kit injects around the connector's ``send_purchase_order``.
SendFault = Literal["timeout_after_send", "timeout_before_send"]
#: The carrier the kit's suppliers ship with (registered by the kit as a manual carrier).
KIT_CARRIER = "conformance-post"


def _stock(oms: Oms, location_code: str, sku: str) -> StockItem:
    found = oms.inventory.stock_item(location_code, sku)
    assert found is not None, f"{location_code} has no stock row of {sku}"
    return found


def _state(oms: Oms) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows but the processed messages (a refused one is recorded there)."""
    return {k: v for k, v in table_contents(oms).items() if not k.endswith("supplier_messages")}


class SupplierDesk(Protocol):
    """The supplier's side of a connector, driven by the kit: what the supplier received,
    and the messages it sends back (written where the connector reads them)."""

    def received(self) -> list[dict[str, Any]]:
        """The JSON document of every purchase order the supplier holds, once each."""
        ...

    def acknowledge(self, purchase_order_id: str, message_id: str) -> None:
        """The supplier accepts the purchase order."""
        ...

    def refuse(self, purchase_order_id: str, message_id: str, reason: str) -> None:
        """The supplier refuses the purchase order."""
        ...

    def ship(self, purchase_order_id: str, message_id: str, lines: Mapping[str, int],
             carrier: str, tracking_number: str) -> None:
        """The supplier shipped ``{sku: units}`` of the purchase order."""
        ...

    def stock(self, message_id: str, levels: Mapping[str, int]) -> None:
        """The supplier reports its free stock ``{sku: units}``."""
        ...


class MemorySupplier:
    """A supplier connector and its supplier desk in memory: purchase orders kept by
    idempotency key, messages kept in lists (returned again on every read, as a folder
    of files would be)."""

    def __init__(self, code: str) -> None:
        self.code = code
        self.orders: dict[str, PurchaseOrderDocument] = {}
        self.responses: list[SupplierResponse] = []
        self.notices: list[ShipNotice] = []
        self.feeds: list[StockFeed] = []
        self._lock = threading.Lock()

    # -- connector ------------------------------------------------------------------------

    def send_purchase_order(self, document: PurchaseOrderDocument,
                            settings: Mapping[str, Any]) -> str:
        """Keep the document under its key (a second send of the key changes nothing)."""
        with self._lock:
            self.orders.setdefault(document.idempotency_key, document)
        return f"{self.code}-{document.purchase_order_id}"

    def find_purchase_order(self, idempotency_key: str,
                            settings: Mapping[str, Any]) -> str | None:
        """The reference of the purchase order sent under the key, if any."""
        found = self.orders.get(idempotency_key)
        return None if found is None else f"{self.code}-{found.purchase_order_id}"

    def read_responses(self, settings: Mapping[str, Any]) -> Sequence[SupplierResponse]:
        return list(self.responses)

    def read_ship_notices(self, settings: Mapping[str, Any]) -> Sequence[ShipNotice]:
        return list(self.notices)

    def read_stock_feed(self, settings: Mapping[str, Any]) -> Sequence[StockFeed]:
        return list(self.feeds)

    # -- desk -----------------------------------------------------------------------------

    def received(self) -> list[dict[str, Any]]:
        """Every purchase order's JSON document, once each."""
        found: dict[str, dict[str, Any]] = {}
        for document in self.orders.values():
            found.setdefault(document.purchase_order_id, json.loads(document.json))
        return list(found.values())

    def acknowledge(self, purchase_order_id: str, message_id: str) -> None:
        self.responses.append(SupplierResponse(
            message_id=message_id, purchase_order_id=purchase_order_id,
            kind=SupplierResponseKind.ACKNOWLEDGED))

    def refuse(self, purchase_order_id: str, message_id: str, reason: str) -> None:
        self.responses.append(SupplierResponse(
            message_id=message_id, purchase_order_id=purchase_order_id,
            kind=SupplierResponseKind.REFUSED, reason=reason))

    def ship(self, purchase_order_id: str, message_id: str, lines: Mapping[str, int],
             carrier: str, tracking_number: str) -> None:
        self.notices.append(ShipNotice(
            message_id=message_id, purchase_order_id=purchase_order_id,
            lines=tuple(ShipNoticeLine(sku=sku, quantity=q) for sku, q in lines.items()),
            carrier=carrier, tracking_number=tracking_number))

    def stock(self, message_id: str, levels: Mapping[str, int]) -> None:
        self.feeds.append(StockFeed(message_id=message_id, levels=tuple(
            StockLevel(sku=sku, quantity=q) for sku, q in levels.items())))


class FaultyConnector:
    """Wraps a connector: counts ``send_purchase_order`` calls per key and injects the
    faults of a network (a timeout after the supplier got it, or before). Everything else
    goes to the wrapped connector."""

    def __init__(self, inner: SupplierConnector) -> None:
        self.inner = inner
        self.code = inner.code
        self.sent: Counter[str] = Counter()
        self.faults: list[SendFault] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def send_purchase_order(self, document: PurchaseOrderDocument,
                            settings: Mapping[str, Any]) -> str:
        """The wrapped connector's send, counted; a queued fault strikes first."""
        fault = self.faults.pop(0) if self.faults else None
        if fault == "timeout_before_send":
            raise SupplierOutcomeUnknown(self.code, "read timeout (injected by the kit)")
        reference = self.inner.send_purchase_order(document, settings)
        self.sent[document.idempotency_key] += 1
        if fault == "timeout_after_send":
            raise SupplierOutcomeUnknown(self.code, "read timeout (injected by the kit)")
        return reference

    def find_purchase_order(self, idempotency_key: str,
                            settings: Mapping[str, Any]) -> str | None:
        return self.inner.find_purchase_order(idempotency_key, settings)

    def read_responses(self, settings: Mapping[str, Any]) -> Sequence[SupplierResponse]:
        return self.inner.read_responses(settings)

    def read_ship_notices(self, settings: Mapping[str, Any]) -> Sequence[ShipNotice]:
        return self.inner.read_ship_notices(settings)

    def read_stock_feed(self, settings: Mapping[str, Any]) -> Sequence[StockFeed]:
        return self.inner.read_stock_feed(settings)


class _Register:
    def __init__(self, connector: SupplierConnector) -> None:
        self.connector = connector

    @hookimpl
    def omskit_register_suppliers(self, register: Callable[[SupplierConnector], None]) -> None:
        register(self.connector)


class SupplierConformance:
    """Tests every supplier connector plugin must pass, on SQLite and PostgreSQL.

    Subclass it in the plugin's tests and provide the fixtures:

    - ``supplier_plugin``: the plugin object (as its entry point registers it);
    - ``supplier_code``: the code of the connector it registers (a location code, which
      the kit gives a supplier location);
    - ``supplier_connector``: a new connector object (the kit registers it wrapped in a
      :class:`FaultyConnector` to count sends and inject timeouts);
    - ``supplier_desk``: a :class:`SupplierDesk` for that connector;
    - ``supplier_settings``: the ``settings`` for ``bootstrap`` (default: none).
    """

    @pytest.fixture
    def supplier_settings(self) -> Mapping[str, Any]:
        return {}

    @pytest.fixture
    def faulty_connector(self, supplier_connector: SupplierConnector) -> FaultyConnector:
        return FaultyConnector(supplier_connector)

    @pytest.fixture
    def supplier_oms(self, make_oms: Callable[..., Oms], faulty_connector: FaultyConnector,
                     supplier_settings: Mapping[str, Any], supplier_code: str) -> Oms:
        oms = make_oms(plugins=[_Register(faulty_connector), ManualCarriers(KIT_CARRIER)],
                       settings=supplier_settings)
        # The supplier is next to the customer; a warehouse far away takes what it refuses.
        oms.inventory.save_location(location(supplier_code, 45.07, 7.69, country="IT",
                                             kind=LocationKind.SUPPLIER))
        oms.inventory.save_location(location("conformance-dc", 40.85, 14.27, country="IT"))
        oms.inventory.receive(supplier_code, "SKU-1", 10)
        oms.inventory.receive(supplier_code, "SKU-2", 10)
        oms.inventory.receive("conformance-dc", "SKU-1", 10)
        oms.inventory.receive("conformance-dc", "SKU-2", 10)
        return oms

    @staticmethod
    def released(oms: Oms, external_id: str = "D-1",
                 lines: Mapping[str, int] | None = None) -> tuple[str, str]:
        """(order id, purchase order id) of an order released at the supplier."""
        order = oms.orders.place(order_command(external_id, dict(lines or {"SKU-1": 3}),
                                               lat=45.07, lon=7.69))
        oms.fulfillment.release(order.id)
        (fo,) = order.fulfillment_orders
        po = oms.dropship.for_fulfillment_order(fo.id)
        assert po is not None, "a fulfilment order released at a supplier has a purchase order"
        return order.id, po.id

    # -- registration ---------------------------------------------------------------------

    def test_plugin_registers_the_connector(self, make_oms: Callable[..., Oms],
                                            supplier_plugin: object, supplier_code: str,
                                            supplier_settings: Mapping[str, Any]) -> None:
        oms = make_oms(plugins=[supplier_plugin], settings=supplier_settings)
        assert supplier_code in oms.dropship.suppliers()
        assert oms.dropship.supplier(supplier_code).code == supplier_code

    # -- sending --------------------------------------------------------------------------

    def test_a_release_sends_one_purchase_order(self, supplier_oms: Oms,
                                                faulty_connector: FaultyConnector,
                                                supplier_desk: SupplierDesk,
                                                supplier_code: str) -> None:
        _, po_id = self.released(supplier_oms)
        po = supplier_oms.dropship.get(po_id)
        assert po.status is PurchaseOrderStatus.SENT
        assert po.supplier == supplier_code
        supplier_oms.dropship.send(po_id)
        supplier_oms.dropship.poll(supplier_code)
        assert sum(faulty_connector.sent.values()) == 1
        (received,) = supplier_desk.received()
        assert received["purchase_order_id"] == po_id
        assert [(x["sku"], x["quantity"]) for x in received["lines"]] == [("SKU-1", 3)]
        document_json, html = supplier_oms.dropship.document(po_id)
        assert json.loads(document_json) == received
        assert po_id in html

    @pytest.mark.parametrize("fault", ["timeout_after_send", "timeout_before_send"])
    def test_an_unknown_send_is_reconciled_before_any_retry(
            self, supplier_oms: Oms, faulty_connector: FaultyConnector,
            supplier_desk: SupplierDesk, supplier_code: str, fault: SendFault) -> None:
        faulty_connector.faults.append(fault)
        _, po_id = self.released(supplier_oms)
        assert supplier_oms.dropship.get(po_id).status is PurchaseOrderStatus.UNKNOWN
        result = supplier_oms.dropship.poll(supplier_code)[0]
        po = supplier_oms.dropship.get(po_id)
        assert (result.sent, po.status) == (1, PurchaseOrderStatus.SENT)
        assert po.idempotency_key == f"{po_id}:1"  # the same key, never a second order
        assert len(supplier_desk.received()) == 1
        assert sum(faulty_connector.sent.values()) == 1

    # -- answers --------------------------------------------------------------------------

    def test_an_acknowledgement_accepts_the_fulfilment_order_once(
            self, supplier_oms: Oms, supplier_desk: SupplierDesk, supplier_code: str) -> None:
        order_id, po_id = self.released(supplier_oms)
        supplier_desk.acknowledge(po_id, "ack-1")
        (first,) = supplier_oms.dropship.poll(supplier_code)
        (again,) = supplier_oms.dropship.poll(supplier_code)
        assert (first.processed, again.processed, again.duplicates) == (1, 0, 1)
        assert supplier_oms.dropship.get(po_id).status is PurchaseOrderStatus.ACKNOWLEDGED
        fo = supplier_oms.orders.get(order_id).fulfillment_orders[0]
        assert fo.status is FulfillmentStatus.ACCEPTED

    def test_a_refusal_routes_the_order_elsewhere(self, supplier_oms: Oms,
                                                  supplier_desk: SupplierDesk,
                                                  supplier_code: str) -> None:
        order_id, po_id = self.released(supplier_oms)
        supplier_desk.refuse(po_id, "no-1", "out of stock")
        supplier_oms.dropship.poll(supplier_code)
        order = supplier_oms.orders.get(order_id)
        refused, rerouted = order.fulfillment_orders
        assert refused.status is FulfillmentStatus.REJECTED
        assert rerouted.location == "conformance-dc"
        assert rerouted.units == 3
        assert supplier_oms.dropship.get(po_id).status is PurchaseOrderStatus.REFUSED
        assert _stock(supplier_oms, supplier_code, "SKU-1").reserved == 0

    def test_a_supplier_ships_part_then_the_rest(self, supplier_oms: Oms,
                                                 supplier_desk: SupplierDesk,
                                                 supplier_code: str) -> None:
        order_id, po_id = self.released(supplier_oms)
        supplier_desk.acknowledge(po_id, "ack-1")
        supplier_desk.ship(po_id, "asn-1", {"SKU-1": 2}, KIT_CARRIER, "TRK-1")
        supplier_oms.dropship.poll(supplier_code)
        supplier_oms.dropship.poll(supplier_code)  # the same files again: nothing twice
        order = supplier_oms.orders.get(order_id)
        fo = order.fulfillment_orders[0]
        assert order.status is OrderStatus.PARTIALLY_SHIPPED
        (shipment,) = fo.shipments
        assert (shipment.units, shipment.tracking_number, shipment.carrier) == (
            2, "TRK-1", KIT_CARRIER)
        assert fo.unshipped() == {fo.lines[0].line_id: 1}
        assert supplier_oms.dropship.get(po_id).status is \
            PurchaseOrderStatus.PARTIALLY_SHIPPED
        stock = _stock(supplier_oms, supplier_code, "SKU-1")
        assert (stock.on_hand, stock.reserved) == (8, 1)
        supplier_desk.ship(po_id, "asn-2", {"SKU-1": 1}, KIT_CARRIER, "TRK-2")
        supplier_oms.dropship.poll(supplier_code)
        order = supplier_oms.orders.get(order_id)
        assert order.status is OrderStatus.SHIPPED
        assert [s.tracking_number for s in order.fulfillment_orders[0].shipments] == [
            "TRK-1", "TRK-2"]
        assert supplier_oms.dropship.get(po_id).status is PurchaseOrderStatus.SHIPPED

    def test_a_notice_for_more_than_was_ordered_changes_nothing(
            self, supplier_oms: Oms, supplier_desk: SupplierDesk, supplier_code: str) -> None:
        order_id, po_id = self.released(supplier_oms)
        supplier_desk.ship(po_id, "asn-9", {"SKU-1": 4}, KIT_CARRIER, "TRK-9")
        before = _state(supplier_oms)
        (result,) = supplier_oms.dropship.poll(supplier_code)
        assert result.processed == 0
        assert len(result.refused) == 1
        assert "asn-9" in result.refused[0]
        assert _state(supplier_oms) == before
        # Refused once, never processed again; the direct call is a typed error.
        assert supplier_oms.dropship.poll(supplier_code)[0].duplicates == 1
        notice = ShipNotice(message_id="asn-10", purchase_order_id=po_id,
                            lines=(ShipNoticeLine(sku="SKU-1", quantity=4),),
                            carrier=KIT_CARRIER, tracking_number="TRK-10")
        with pytest.raises(ShipNoticeExceedsOrder):
            supplier_oms.dropship.receive_ship_notice(supplier_code, notice)
        assert supplier_oms.orders.get(order_id).fulfillment_orders[0].shipments == []

    def test_a_stock_feed_sets_the_supplier_stock_once(self, supplier_oms: Oms,
                                                       supplier_desk: SupplierDesk,
                                                       supplier_code: str) -> None:
        self.released(supplier_oms)  # 3 units of SKU-1 held for an order
        supplier_desk.stock("feed-1", {"SKU-1": 5, "SKU-3": 7})
        supplier_oms.dropship.poll(supplier_code)
        supplier_oms.dropship.poll(supplier_code)
        held = _stock(supplier_oms, supplier_code, "SKU-1")
        assert (held.on_hand, held.reserved, held.available) == (8, 3, 5)
        assert _stock(supplier_oms, supplier_code, "SKU-3").on_hand == 7
        (entry,) = supplier_oms.inventory.ledger(supplier_code, "SKU-3")
        assert entry.reference.startswith("stock feed ")  # the connector's message id
