"""The purchase order a supplier receives: a JSON document (the content a connector sends)
and an HTML page from the ``purchase_order.html.j2`` template (autoescaped)."""

from __future__ import annotations

import json
from typing import Any

from omskit.documents import _ENV
from omskit.domain.dropship import PurchaseOrder
from omskit.domain.inventory import Location
from omskit.domain.order import Order


def purchase_order_data(po: PurchaseOrder, supplier: Location, order: Order) -> dict[str, Any]:
    """The purchase order as JSON-ready data: ids, the supplier, the ship-to address and
    the lines (the format is documented in ``docs/dropship.md``)."""
    a = order.shipping_address
    return {
        "purchase_order_id": po.id,
        "supplier": supplier.code,
        "order": {"id": order.id, "external_id": order.external_id, "channel": order.channel},
        "fulfillment_order_id": po.fulfillment_order_id,
        "created_at": po.created_at.isoformat(),
        "ship_to": None if a is None else {
            "name": a.name or order.customer.contact.name, "line1": a.line1,
            "line2": a.line2, "postal_code": a.postal_code, "city": a.city,
            "region": a.region, "country": a.country,
            "email": order.customer.contact.email, "phone": order.customer.contact.phone},
        "lines": [{"line_id": x.line_id, "sku": x.sku, "quantity": x.quantity}
                  for x in po.lines],
    }


def render_purchase_order(po: PurchaseOrder, supplier: Location,
                          order: Order) -> tuple[str, str]:
    """(JSON, HTML) of the purchase order."""
    data = json.dumps(purchase_order_data(po, supplier, order), indent=2, sort_keys=True,
                      ensure_ascii=False)
    html = _ENV.get_template("purchase_order.html.j2").render(po=po, supplier=supplier,
                                                             order=order)
    return data, html


__all__ = ["purchase_order_data", "render_purchase_order"]
