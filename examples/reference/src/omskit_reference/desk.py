"""The returns desk (``/ui/returns``): a store associate takes goods back over the counter
and an operator works every return, with the pages' rules (a signed-in key, htmx actions
with the ``X-Requested-By`` header, the API's scopes).

A store key sees and works its own store's returns: it requests a return of an order (by its
external id) at its store, receives the goods and inspects them. Approving, declining,
refunding and closing are an operator's. A button's receipt or inspection carries a key made
of the return's state when the page was drawn, so a double click takes the goods once.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import PermissionDeniedException
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Template
from omskit import (
    CarrierCapability,
    Disposition,
    InvalidCommand,
    OmsError,
    OrderQuery,
    Return,
    ReturnItem,
    ReturnStatus,
    UnitDisposition,
)

from omskit_reference.access import location_in_reach, require_write, return_in_reach
from omskit_reference.deployment import Deployment
from omskit_reference.keys import ApiKey, Scope
from omskit_reference.pages import Dep, page, require_action, viewer
from omskit_reference.returns import inspectable

Form = Annotated[dict[str, str] | None, Body(media_type=RequestEncodingType.URL_ENCODED)]

#: Statuses whose goods may still arrive, and those with received units to inspect.
AWAITING = frozenset({ReturnStatus.APPROVED, ReturnStatus.IN_TRANSIT,
                      ReturnStatus.PARTIALLY_RECEIVED})
TO_INSPECT = frozenset({ReturnStatus.PARTIALLY_RECEIVED, ReturnStatus.RECEIVED})
#: Statuses in which a return label may be bought.
LABELLED = frozenset({ReturnStatus.REQUESTED, ReturnStatus.APPROVED})


def desk_viewer(request: Request[Any, Any, Any], deployment: Deployment) -> ApiKey:
    """The signed-in key, if it may use the desk: operations (and admin, read) or a store."""
    key = viewer(request, deployment)
    if not key.sees_everything and key.scope is not Scope.STORE:
        raise PermissionDeniedException("the returns desk is for operations and stores")
    return key


def outstanding(rma: Return) -> list[ReturnItem]:
    """Units asked back and not received yet."""
    got = rma.received
    return [ReturnItem(line_id=line, quantity=n - got.get(line, 0))
            for line, n in rma.requested.items() if n > got.get(line, 0)]


def uninspected(rma: Return, disposition: Disposition) -> list[UnitDisposition]:
    """Units received and not inspected yet, all given ``disposition``."""
    seen = rma.inspected
    return [UnitDisposition(line_id=line, quantity=n - seen.get(line, 0),
                            disposition=disposition)
            for line, n in rma.received.items() if n > seen.get(line, 0)]


class ReturnsDesk(Controller):
    """The returns desk under ``/ui/returns``."""

    path = "/ui/returns"
    include_in_schema = False

    @get(sync_to_thread=True)
    def desk(self, request: Request[Any, Any, Any], deployment: Dep) -> Template:
        """The returns (a store's own), the form to request one, each row's actions."""
        key = desk_viewer(request, deployment)
        return page("returns.html.j2", key, **self._rows(deployment, key))

    @post("/request", sync_to_thread=True, status_code=200)
    def request_return(self, request: Request[Any, Any, Any], deployment: Dep,
                       data: Form = None) -> Template:
        """Take back every returnable unit of an order (by external id) at the store."""
        key = desk_viewer(request, deployment)
        require_action(request)
        require_write(key, Scope.OPERATIONS, Scope.STORE)
        form = data or {}
        oms = deployment.oms
        location = key.location if key.scope is Scope.STORE else form.get("location", "")
        message = ""
        try:
            location_in_reach(key, location or "")
            external_id = form.get("external_id", "").strip()
            found = oms.orders.search(OrderQuery(external_id=external_id, limit=2)) \
                if external_id else []
            if len(found) != 1:
                raise InvalidCommand([f"external_id: {'no' if not found else 'more than one'}"
                                      f" order is {external_id!r}"], subject="return")
            order_id = found[0].id
            units = oms.returns.returnable(order_id)
            if not units:
                raise InvalidCommand([f"order {external_id}: nothing shipped is left to "
                                      "take back"], subject="return")
            reason = form.get("reason", "").strip()
            earlier = len(oms.returns.for_order(order_id))
            oms.returns.request(order_id, [ReturnItem(line_id=line, quantity=n, reason=reason)
                                           for line, n in units.items()],
                                channel="store", location=location,
                                idempotency_key=f"desk-{order_id}-{earlier}")
        except OmsError as exc:
            message = str(exc)
        return page("_returns.html.j2", key, message=message, **self._rows(deployment, key))

    @post("/{return_id:str}/{action:str}", sync_to_thread=True, status_code=200)
    def act(self, request: Request[Any, Any, Any], deployment: Dep, return_id: FromPath[str],
            action: FromPath[str], carrier: FromQuery[str] = "") -> Template:
        """One action on a return: approve, decline, label (from ``carrier``; once),
        receive, restock / quarantine / damaged (inspect), refund, close; answers the
        list."""
        key = desk_viewer(request, deployment)
        require_action(request)
        operator = action in ("approve", "decline", "label", "refund", "close")
        require_write(key, *((Scope.OPERATIONS,) if operator
                             else (Scope.OPERATIONS, Scope.STORE)))
        returns = deployment.oms.returns
        message = ""
        try:
            found = returns.get(return_id)
            rma = return_in_reach(key, found, lambda: deployment.oms.orders.get(found.order_id))
            if action == "approve":
                returns.approve(rma.id)
            elif action == "decline":
                returns.decline(rma.id, f"declined by {key.name}")
            elif action == "label":
                returns.buy_label(rma.id, carrier)
            elif action == "receive":
                at = key.location if key.scope is Scope.STORE else rma.location
                if not at:
                    raise InvalidCommand(["location: the return names no location; "
                                          "receive it through the API"], subject="return")
                returns.receive(rma.id, at, outstanding(rma),
                                idempotency_key=f"desk-{rma.id}-r{len(rma.receipts)}")
            elif action in ("restock", "quarantine", "damaged"):
                inspectable(key, rma)
                returns.inspect(rma.id, uninspected(rma, Disposition(action)),
                                idempotency_key=f"desk-{rma.id}-i{len(rma.inspections)}")
            elif action == "refund":
                returns.refund(rma.id)
            elif action == "close":
                returns.close(rma.id)
            else:
                raise InvalidCommand([f"action: unknown action {action!r}"])
        except OmsError as exc:
            message = str(exc)
        return page("_returns.html.j2", key, message=message, **self._rows(deployment, key))

    def _rows(self, deployment: Deployment, key: ApiKey) -> dict[str, Any]:
        oms = deployment.oms
        found = oms.returns.search(location=key.location if key.scope is Scope.STORE
                                   else None, limit=200)
        externals = {o: oms.orders.get(o).external_id for o in {r.order_id for r in found}}
        shipping = oms.shipping
        labels = [c for c in shipping.carriers()
                  if CarrierCapability.RETURN_LABELS in shipping.carrier(c).capabilities]
        return {"returns": found, "externals": externals, "awaiting": AWAITING,
                "label_carriers": labels, "labelled": LABELLED,
                "to_inspect": TO_INSPECT,
                "can_work": key.writes and key.scope in (Scope.ADMIN, Scope.OPERATIONS,
                                                         Scope.STORE),
                "can_decide": key.writes and key.scope in (Scope.ADMIN, Scope.OPERATIONS)}
