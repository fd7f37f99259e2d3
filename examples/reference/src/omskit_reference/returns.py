"""The returns API: request a return of an order's shipped units (with an exchange's
replacement goods, if any), buy its label, then approve or decline, receive, inspect, refund
and close it (``oms.returns``; the policy is the deployment's,
see :data:`omskit_reference.deployment.SETTINGS`).

Operations keys do everything; a channel key requests, reads and buys labels for its own
orders' returns; a store key requests, receives and inspects returns at its own store and
reads them. Every
POST runs once per ``Idempotency-Key``; a receipt and an inspection also carry it into
omskit (scoped to the API key), so a retry never takes the same units twice.
"""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Response, get, post
from litestar.exceptions import PermissionDeniedException
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from omskit import Return, ReturnStatus

from omskit_reference.access import (
    location_in_reach,
    order_in_reach,
    require,
    require_write,
    return_in_reach,
)
from omskit_reference.api import Dep, IdempotencyKey, Req, scoped_key
from omskit_reference.bodies import (
    InspectionBody,
    LabelBody,
    NewReturn,
    Reason,
    ReturnReceiptBody,
)
from omskit_reference.deployment import Deployment, reply
from omskit_reference.idempotency import Reply
from omskit_reference.keys import ApiKey, Scope
from omskit_reference.problems import ERRORS


def reach(key: ApiKey, deployment: Deployment, return_id: str) -> Return:
    """The return with this id, if the key may see it (404 otherwise)."""
    rma = deployment.oms.returns.get(return_id)
    return return_in_reach(key, rma, lambda: deployment.oms.orders.get(rma.order_id))


def inspectable(key: ApiKey, rma: Return) -> Return:
    """A store inspects only units received at its own store (403 otherwise)."""
    if key.scope is Scope.STORE and any(r.location != key.location for r in rma.receipts):
        raise PermissionDeniedException("this return's units were received at another "
                                        "location")
    return rma


def request_return(key: ApiKey, deployment: Deployment, order_id: str, data: NewReturn,
                   core: str) -> Return:
    """Ask for a return within the key's reach: a store key at its own store (any order: an
    online order comes back over the counter), a channel key for its own orders."""
    if key.scope is Scope.STORE:
        location_in_reach(key, data.location or "")
        deployment.oms.orders.get(order_id)  # 404 for an unknown order
    else:
        order_in_reach(key, deployment.oms.orders.get(order_id))
    return deployment.oms.returns.request(order_id, list(data.lines), channel=data.channel,
                                          location=data.location, note=data.note,
                                          exchange=list(data.exchange),
                                          exchange_mode=data.exchange_mode,
                                          idempotency_key=core)


class OrderReturnController(Controller):
    """A return of one order's units."""

    path = "/orders/{order_id:str}/returns"
    tags = ["returns"]

    @post(sync_to_thread=True, responses=ERRORS, status_code=201)
    def request_return(self, request: Req, deployment: Dep, order_id: FromPath[str],
                       data: JSONBody[NewReturn],
                       idempotency_key: IdempotencyKey) -> Response[Return]:
        """Ask to take back shipped units; the returns policy may refuse (422), and more
        than was shipped less earlier returns is a 409."""
        require_write(request.user, Scope.OPERATIONS, Scope.CHANNEL, Scope.STORE)
        core = scoped_key(request)
        return deployment.write(request, data, lambda: reply(
            request_return(request.user, deployment, order_id, data, core), status=201))

    @get(sync_to_thread=True, responses=ERRORS)
    def order_returns(self, request: Req, deployment: Dep,
                      order_id: FromPath[str]) -> list[Return]:
        """The order's returns within the key's reach, oldest first."""
        key = request.user
        order = deployment.oms.orders.get(order_id)
        found = deployment.oms.returns.for_order(order_id)
        if key.scope is Scope.STORE:
            return [r for r in found if r.location == key.location]
        order_in_reach(key, order)
        return found


class ReturnController(Controller):
    """Returns: the list, one return, and each step of its life."""

    path = "/returns"
    tags = ["returns"]

    @get(sync_to_thread=True, responses=ERRORS)
    def list_returns(self, request: Req, deployment: Dep,
                     status: FromQuery[ReturnStatus | None] = None,
                     location: FromQuery[str | None] = None,
                     limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100) -> list[Return]:
        """The latest returns, newest first (a store key: its own store's)."""
        key = request.user
        require(key, Scope.OPERATIONS, Scope.READ, Scope.STORE)
        if key.scope is Scope.STORE:
            location_in_reach(key, location or key.location or "")
            location = key.location
        return deployment.oms.returns.search(status=status, location=location, limit=limit)

    @get("/{return_id:str}", sync_to_thread=True, responses=ERRORS)
    def read(self, request: Req, deployment: Dep, return_id: FromPath[str]) -> Return:
        """One return: its lines, receipts, inspections and refund."""
        return reach(request.user, deployment, return_id)

    def _step(self, request: Req, deployment: Deployment, return_id: str, body: object,
              step: Any, *scopes: Scope) -> Response[Return]:
        require_write(request.user, *scopes)

        def work() -> Reply:
            reach(request.user, deployment, return_id)
            return reply(step())
        return deployment.write(request, body, work)

    @post("/{return_id:str}/approve", sync_to_thread=True, responses=ERRORS, status_code=200)
    def approve(self, request: Req, deployment: Dep, return_id: FromPath[str],
                idempotency_key: IdempotencyKey) -> Response[Return]:
        """Accept the return (an exchange's replacement order is placed now)."""
        return self._step(request, deployment, return_id, None,
                          lambda: deployment.oms.returns.approve(return_id), Scope.OPERATIONS)

    @post("/{return_id:str}/decline", sync_to_thread=True, responses=ERRORS, status_code=200)
    def decline(self, request: Req, deployment: Dep, return_id: FromPath[str],
                data: JSONBody[Reason], idempotency_key: IdempotencyKey) -> Response[Return]:
        """Refuse the return."""
        return self._step(request, deployment, return_id, data,
                          lambda: deployment.oms.returns.decline(return_id, data.reason),
                          Scope.OPERATIONS)

    @post("/{return_id:str}/receive", sync_to_thread=True, responses=ERRORS, status_code=200)
    def receive(self, request: Req, deployment: Dep, return_id: FromPath[str],
                data: JSONBody[ReturnReceiptBody],
                idempotency_key: IdempotencyKey) -> Response[Return]:
        """Units of the return arrived at a location (a store key: its own store)."""
        if request.user.scope is Scope.STORE:
            location_in_reach(request.user, data.location)
        core = scoped_key(request)
        return self._step(request, deployment, return_id, data,
                          lambda: deployment.oms.returns.receive(
                              return_id, data.location, list(data.lines),
                              idempotency_key=core),
                          Scope.OPERATIONS, Scope.STORE)

    @post("/{return_id:str}/inspect", sync_to_thread=True, responses=ERRORS, status_code=200)
    def inspect(self, request: Req, deployment: Dep, return_id: FromPath[str],
                data: JSONBody[InspectionBody],
                idempotency_key: IdempotencyKey) -> Response[Return]:
        """Received units inspected: restocked (on sale again where they were received),
        quarantined, damaged or sent back to the vendor."""
        core = scoped_key(request)
        key = request.user

        def step() -> Return:
            inspectable(key, deployment.oms.returns.get(return_id))
            return deployment.oms.returns.inspect(return_id, list(data.units),
                                                  idempotency_key=core)
        return self._step(request, deployment, return_id, data, step,
                          Scope.OPERATIONS, Scope.STORE)

    @post("/{return_id:str}/label", sync_to_thread=True, responses=ERRORS, status_code=200)
    def label(self, request: Req, deployment: Dep, return_id: FromPath[str],
              data: JSONBody[LabelBody], idempotency_key: IdempotencyKey) -> Response[Return]:
        """Buy the customer's return label (once per return: again, the same label) from a
        carrier that offers return labels (409 for one that does not, 404 for an unknown
        one); an approved return moves ``in_transit``."""
        return self._step(request, deployment, return_id, data,
                          lambda: deployment.oms.returns.buy_label(
                              return_id, data.carrier, weight_grams=data.weight_grams),
                          Scope.OPERATIONS, Scope.CHANNEL)

    @post("/{return_id:str}/refund", sync_to_thread=True, responses=ERRORS, status_code=200)
    def refund(self, request: Req, deployment: Dep, return_id: FromPath[str],
               idempotency_key: IdempotencyKey) -> Response[Return]:
        """Pay the policy's refund back through the payment ledger (once)."""
        return self._step(request, deployment, return_id, None,
                          lambda: deployment.oms.returns.refund(return_id), Scope.OPERATIONS)

    @post("/{return_id:str}/close", sync_to_thread=True, responses=ERRORS, status_code=200)
    def close(self, request: Req, deployment: Dep, return_id: FromPath[str],
              idempotency_key: IdempotencyKey) -> Response[Return]:
        """Nothing more to do: the return is closed."""
        return self._step(request, deployment, return_id, None,
                          lambda: deployment.oms.returns.close(return_id), Scope.OPERATIONS)


CONTROLLERS = [OrderReturnController, ReturnController]
