"""What happens at the till after the sale is placed, through omskit's public API only.

A ``carry_out`` sale is handed over at once: its fulfilment orders at the store are released,
accepted, picked, packed, handed over (a shipment with the ``pos-till`` carrier, which
consumes the store's stock) and delivered, and the order is completed. Every step is
idempotent and starts from where the order is, so a sale replayed after a crash half-way
finishes the hand-over instead of repeating it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import attrs
from omskit import FulfillmentStatus, Oms, Order, OrderStatus, PaymentSummary

from omskit_channel_pos.connector import CHANNEL_CODE

#: The shipping carrier of goods handed over at the till (registered by this plugin).
TILL_CARRIER = "pos-till"

_F = FulfillmentStatus
#: The steps of a hand-over, from each status to the next.
_NEXT = {_F.RELEASED: _F.ACCEPTED, _F.ACCEPTED: _F.PICKED, _F.PICKED: _F.PACKED,
         _F.PACKED: _F.SHIPPED, _F.SHIPPED: _F.DELIVERED}


@attrs.frozen(kw_only=True)
class TillSale:
    """A sale as omskit holds it after :func:`record_sale`."""

    order: Order
    #: Whether this call placed the order (``False``: a replay of a sale already placed).
    created: bool
    #: Whether the goods left with the customer: a ``carry_out`` sale fully handed over.
    handed_over: bool


def _mode(order: Order) -> str:
    return str(order.metadata.get("mode", ""))


def hand_over(oms: Oms, order: Order) -> Order:
    """Carry a ``carry_out`` sale through to completed (idempotent, resumable). A sale whose
    store had not all the goods in omskit's books is recorded and waits: backordered, or
    supplied to the store by a ship-to-store transfer; the gap is there for the store to
    investigate, and a replay once the transfer has arrived hands it over."""
    if order.backordered() or order.status in (OrderStatus.CANCELLED, OrderStatus.COMPLETED,
                                               OrderStatus.ON_HOLD):
        return order
    # Goods still on their way to the store cannot leave it with the customer.
    if any(oms.pickups.transfers(fo.id) for fo in order.fulfillment_orders if fo.active):
        return order
    if any(fo.status is _F.CREATED for fo in order.fulfillment_orders):
        order = oms.fulfillment.release(order.id)
    receipt = str(order.metadata.get("receipt", order.external_id))
    for fo in order.fulfillment_orders:
        status = fo.status
        while status in _NEXT:
            step = _NEXT[status]
            if step is _F.ACCEPTED:
                status = oms.fulfillment.accept(fo.id).status
            elif step is _F.PICKED:
                status = oms.fulfillment.pick(fo.id).status
            elif step is _F.PACKED:
                status = oms.fulfillment.pack(fo.id).status
            elif step is _F.SHIPPED:
                status = oms.fulfillment.ship(fo.id, carrier=TILL_CARRIER,
                                              tracking_number=receipt).status
            else:
                status = oms.fulfillment.deliver(fo.id).status
    return oms.orders.complete(order.id)


def record_sale(oms: Oms, payload: Mapping[str, Any]) -> TillSale:
    """Place a till's sale once (``PayloadError`` for a bad one, nothing written) and, for a
    ``carry_out`` sale, hand it over at once. Sending it again changes nothing more."""
    command = oms.channels.parse(CHANNEL_CODE, payload)
    created = oms.orders.find_by_external(command.channel, command.external_id) is None
    # Placed (or found: a replay) through the channel, so the same checks apply either way.
    order = oms.channels.receive(CHANNEL_CODE, payload)
    if _mode(order) == "carry_out":
        order = hand_over(oms, order)
    return TillSale(order=order, created=created,
                    handed_over=order.status is OrderStatus.COMPLETED)


def replay(oms: Oms, queue: Iterable[Mapping[str, Any]]) -> list[TillSale]:
    """Send a till's offline queue, oldest first: each sale is created once, whatever was
    already sent before the till lost its connection."""
    return [record_sale(oms, payload) for payload in queue]


def pay_at_collection(oms: Oms, order_id: str, amount: Decimal, *,
                      receipt: str) -> PaymentSummary:
    """Record what a customer paid at the till when collecting a reserved order (captured
    funds, once per ``receipt``)."""
    return oms.payments.record_channel_capture(order_id, amount, reference=receipt)


__all__ = ["TILL_CARRIER", "TillSale", "hand_over", "pay_at_collection", "record_sale",
           "replay"]
