"""Dropship over HTTP (``oms.dropship``): a supplier's purchase orders, and the supplier's
answers — acknowledge, refuse, ship notices with tracking — for a supplier that answers
through the deployment instead of (or besides) its connector's own channel (files, EDI).

A purchase order is created and sent by omskit when a fulfilment order is released at a
supplier location; what comes back here goes through the same core calls a connector's
messages do (``receive_response``, ``receive_ship_notice``), each once: the message id is
the request's ``Idempotency-Key`` (scoped to the API key), so a retried acknowledgement or
notice changes nothing more. A refusal re-routes the fulfilment order elsewhere.

Operations keys reach every supplier. A supplier's own key is a location key (scope
``store``) bound to the supplier's location code: it sees and answers that supplier's
purchase orders only (another's is a 404). Read keys read.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from omskit import (
    PurchaseOrder,
    PurchaseOrderNotFound,
    PurchaseOrderStatus,
    ShipNotice,
    SupplierResponse,
    SupplierResponseKind,
)

from omskit_reference.access import location_in_reach, require, require_write
from omskit_reference.api import Dep, IdempotencyKey, Req, scoped_key
from omskit_reference.bodies import Reason, ShipNoticeBody
from omskit_reference.deployment import Deployment, reply
from omskit_reference.idempotency import Reply
from omskit_reference.keys import ApiKey, Scope
from omskit_reference.problems import ERRORS

#: Purchase orders still waiting for the supplier (to be sent, answered or shipped).
OPEN_STATUSES = (PurchaseOrderStatus.PENDING, PurchaseOrderStatus.SENDING,
                 PurchaseOrderStatus.UNKNOWN, PurchaseOrderStatus.FAILED,
                 PurchaseOrderStatus.SENT, PurchaseOrderStatus.ACKNOWLEDGED,
                 PurchaseOrderStatus.PARTIALLY_SHIPPED)


def purchase_order_in_reach(key: ApiKey, deployment: Deployment, po_id: str) -> PurchaseOrder:
    """The purchase order, if the key may see it (a supplier's key: its own); else 404."""
    po = deployment.oms.dropship.get(po_id)
    if key.sees_everything or (key.scope is Scope.STORE and key.location == po.supplier):
        return po
    raise PurchaseOrderNotFound(po_id)


class SupplierController(Controller):
    """A supplier's purchase orders."""

    path = "/suppliers"
    tags = ["dropship"]

    @get("/{code:str}/purchase-orders", sync_to_thread=True, responses=ERRORS)
    def purchase_orders(self, request: Req, deployment: Dep, code: FromPath[str],
                        status: FromQuery[list[PurchaseOrderStatus] | None] = None,
                        open_only: FromQuery[bool] = False,
                        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 200,
                        ) -> list[PurchaseOrder]:
        """The supplier's purchase orders, oldest first (``open_only``: those still waiting
        to be sent, answered or shipped; ``status``: those in these statuses)."""
        key = request.user
        require(key, Scope.OPERATIONS, Scope.READ, Scope.STORE)
        location_in_reach(key, code)
        deployment.oms.dropship.supplier(code)  # 404 for a code no connector has
        statuses: tuple[PurchaseOrderStatus, ...] | None = tuple(status) if status else None
        if open_only:
            statuses = tuple(s for s in OPEN_STATUSES if statuses is None or s in statuses)
        return deployment.oms.dropship.purchase_orders(code, statuses, limit=limit)


class PurchaseOrderController(Controller):
    """One purchase order, and the supplier's answers to it."""

    path = "/purchase-orders"
    tags = ["dropship"]

    @get("/{purchase_order_id:str}", sync_to_thread=True, responses=ERRORS)
    def read(self, request: Req, deployment: Dep,
             purchase_order_id: FromPath[str]) -> PurchaseOrder:
        """One purchase order: its lines, status, what was shipped and the last error."""
        require(request.user, Scope.OPERATIONS, Scope.READ, Scope.STORE)
        return purchase_order_in_reach(request.user, deployment, purchase_order_id)

    def _answer(self, request: Req, deployment: Deployment, po_id: str, body: object,
                answer: Any) -> Response[PurchaseOrder]:
        key = request.user
        require_write(key, Scope.OPERATIONS, Scope.STORE)
        message_id = scoped_key(request)

        def work() -> Reply:
            po = purchase_order_in_reach(key, deployment, po_id)
            return reply(answer(po, message_id))
        return deployment.write(request, body, work)

    @post("/{purchase_order_id:str}/acknowledge", sync_to_thread=True, responses=ERRORS,
          status_code=200)
    def acknowledge(self, request: Req, deployment: Dep, purchase_order_id: FromPath[str],
                    idempotency_key: IdempotencyKey) -> Response[PurchaseOrder]:
        """The supplier will ship it: the fulfilment order is accepted."""
        return self._answer(request, deployment, purchase_order_id, None,
                            lambda po, message: deployment.oms.dropship.receive_response(
                                po.supplier, SupplierResponse(
                                    message_id=message, purchase_order_id=po.id,
                                    kind=SupplierResponseKind.ACKNOWLEDGED)))

    @post("/{purchase_order_id:str}/refuse", sync_to_thread=True, responses=ERRORS,
          status_code=200)
    def refuse(self, request: Req, deployment: Dep, purchase_order_id: FromPath[str],
               data: JSONBody[Reason], idempotency_key: IdempotencyKey) -> Response[PurchaseOrder]:
        """The supplier will not ship it: the fulfilment order is rejected and re-routed
        elsewhere (only before it is acknowledged: 422 after)."""
        return self._answer(request, deployment, purchase_order_id, data,
                            lambda po, message: deployment.oms.dropship.receive_response(
                                po.supplier, SupplierResponse(
                                    message_id=message, purchase_order_id=po.id,
                                    kind=SupplierResponseKind.REFUSED, reason=data.reason)))

    @post("/{purchase_order_id:str}/ship-notices", sync_to_thread=True, responses=ERRORS,
          status_code=200)
    def ship_notice(self, request: Req, deployment: Dep, purchase_order_id: FromPath[str],
                    data: JSONBody[ShipNoticeBody],
                    idempotency_key: IdempotencyKey) -> Response[PurchaseOrder]:
        """Units left with a carrier under a tracking number: they ship as one shipment
        (more than is left, or an unknown carrier, is refused and changes nothing)."""
        return self._answer(request, deployment, purchase_order_id, data,
                            lambda po, message: deployment.oms.dropship.receive_ship_notice(
                                po.supplier, ShipNotice(
                                    message_id=message, purchase_order_id=po.id,
                                    lines=tuple(data.lines), carrier=data.carrier,
                                    tracking_number=data.tracking_number,
                                    shipped_at=data.shipped_at)))


CONTROLLERS = [SupplierController, PurchaseOrderController]
