"""An order's shipments with their tracking events, and its invoices and credit notes
(``oms.shipping``, ``oms.invoices``): reads on the order, within the key's reach."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.params import FromPath
from omskit import InvoiceNotFound

from omskit_reference.access import order_in_reach, require
from omskit_reference.api import Dep, Req
from omskit_reference.bodies import DocumentView, ShipmentTracking
from omskit_reference.keys import Scope
from omskit_reference.problems import ERRORS


class OrderDocumentController(Controller):
    """Shipments and documents of one order."""

    path = "/orders/{order_id:str}"
    tags = ["shipments and invoices"]

    @get("/shipments", sync_to_thread=True, responses=ERRORS)
    def shipments(self, request: Req, deployment: Dep,
                  order_id: FromPath[str]) -> list[ShipmentTracking]:
        """Every shipment of the order (a store key: those leaving its store), with each
        parcel's tracking events, oldest first."""
        key = request.user
        order = order_in_reach(key, deployment.oms.orders.get(order_id))
        shipping = deployment.oms.shipping
        return [ShipmentTracking(
            fulfillment_order_id=fo.id, location=fo.location, shipment=shipment,
            events=[e for parcel in shipment.parcels for e in shipping.tracking_events(parcel.id)])
            for fo in order.fulfillment_orders
            if key.scope is not Scope.STORE or fo.location == key.location
            for shipment in fo.shipments]

    @get("/invoices", sync_to_thread=True, responses=ERRORS)
    def invoices(self, request: Req, deployment: Dep,
                 order_id: FromPath[str]) -> list[DocumentView]:
        """The order's invoices (one per shipment) and credit notes (one per refund), in
        the order they were issued, with their totals."""
        require(request.user, Scope.OPERATIONS, Scope.READ, Scope.CHANNEL)
        order_in_reach(request.user, deployment.oms.orders.get(order_id))
        return [DocumentView.of(d) for d in deployment.oms.invoices.for_order(order_id)]

    @get("/invoices/{invoice_id:str}/html", sync_to_thread=True, responses=ERRORS,
         media_type="text/html")
    def invoice_html(self, request: Req, deployment: Dep, order_id: FromPath[str],
                     invoice_id: FromPath[str]) -> Response[str]:
        """One of the order's documents as the printable page it was issued as."""
        require(request.user, Scope.OPERATIONS, Scope.READ, Scope.CHANNEL)
        order_in_reach(request.user, deployment.oms.orders.get(order_id))
        found = [d for d in deployment.oms.invoices.for_order(order_id) if d.id == invoice_id]
        if not found:
            raise InvoiceNotFound(invoice_id)
        return Response(deployment.oms.invoices.html(found[0].number), media_type="text/html")


CONTROLLERS = [OrderDocumentController]
