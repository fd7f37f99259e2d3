"""The HTTP API: orders, fulfilment, inventory, payments, webhooks and API keys.

Every handler is synchronous and runs in a worker thread (omskit's services block on the
database). Reads answer omskit's attrs classes as they are; changes go through
:meth:`Deployment.write` (``Idempotency-Key``) and, on an order, ``If-Match``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException
from litestar.params import (
    FromPath,
    FromQuery,
    HeaderParameter,
    JSONBody,
    QueryParameter,
    RawBody,
)
from omskit import (
    FulfillmentOrder,
    InvalidCommand,
    Location,
    Order,
    OrderQuery,
    OrderStatus,
    PaymentSummary,
    PlaceOrder,
    RoutingDecision,
    StockItem,
    TimelineEntry,
    TrackingResult,
    UnknownChannel,
)

from omskit_reference.access import (
    fulfillment_in_reach,
    location_in_reach,
    order_in_reach,
    require,
    require_write,
)
from omskit_reference.bodies import (
    ChannelWebhookAnswer,
    Collection,
    IssuedKeyBody,
    NewHold,
    NewKey,
    OrderPage,
    OrderView,
    Reason,
    Receipt,
    ShipBody,
    StockView,
    TrackingLink,
)
from omskit_reference.deployment import (
    CHANNEL_WEBHOOKS,
    Deployment,
    change_at_version,
    reply,
)
from omskit_reference.idempotency import Reply
from omskit_reference.keys import ApiKey, Scope
from omskit_reference.problems import ERRORS

Req = Request[ApiKey, Any, Any]
Dep = NamedDependency[Deployment]
IdempotencyKey = Annotated[str, HeaderParameter(name="Idempotency-Key", required=True,
                                          description="Any unique string per request; a "
                                          "retry with the same key gets the first answer")]
IfMatch = Annotated[str | None, HeaderParameter(name="If-Match", required=False,
                                          description="The order's ETag as last read "
                                          "(required: 428 without it)")]


def encode_cursor(summary_at: datetime, order_id: str) -> str:
    """An opaque keyset cursor: where the previous page ended."""
    raw = json.dumps([summary_at.isoformat(), order_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The ``(placed_at, id)`` a cursor names; a forged or damaged one is a 422."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, order_id = json.loads(raw)
        return datetime.fromisoformat(at), str(order_id)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise InvalidCommand(["cursor: not a cursor this API gave out"],
                             subject="order query") from exc


def scoped_key(request: Req) -> str:
    """The key omskit records a keyed change under (a pickup's collection, a return's
    receipt or inspection): the request's ``Idempotency-Key`` scoped to the API key (two
    clients may pick the same string), so a retry takes nothing twice."""
    raw = f"{request.user.id}:{request.headers.get('idempotency-key', '').strip()}"
    return "api-" + hashlib.sha256(raw.encode()).hexdigest()[:40]


class OrderController(Controller):
    """Orders: place, search, read, and the changes a person or a channel makes."""

    path = "/orders"
    tags = ["orders"]

    @post(sync_to_thread=True, responses=ERRORS, status_code=201)
    def place(self, request: Req, data: JSONBody[PlaceOrder], deployment: Dep,
              idempotency_key: IdempotencyKey) -> Response[OrderView]:
        """Place an order (a channel key places only on its own channel)."""
        key = request.user
        require_write(key, Scope.OPERATIONS, Scope.CHANNEL)
        if key.scope is Scope.CHANNEL and data.channel != key.channel:
            raise ClientException(status_code=403, detail=f"this key places orders on "
                                  f"channel {key.channel!r} only")

        def work() -> Reply:
            order = deployment.oms.orders.place(data)
            return reply(order, status=201, order=order)
        return deployment.write(request, data, work)

    @get(sync_to_thread=True, responses=ERRORS)
    def search(self, request: Req, deployment: Dep,
               status: FromQuery[list[OrderStatus] | None] = None,
               channel: FromQuery[str | None] = None,
               customer: FromQuery[str | None] = None,
               placed_from: FromQuery[datetime | None] = None,
               placed_to: FromQuery[datetime | None] = None,
               limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
               cursor: FromQuery[str | None] = None) -> OrderPage:
        """Orders newest first, a page at a time (keyset: pass ``next_cursor`` back)."""
        key = request.user
        require(key, Scope.OPERATIONS, Scope.READ, Scope.CHANNEL)
        if key.scope is Scope.CHANNEL:
            if channel not in (None, key.channel):
                return OrderPage(items=[])
            channel = key.channel
        query = OrderQuery(statuses=tuple(status or ()), channel=channel, customer_id=customer,
                           placed_from=placed_from, placed_to=placed_to, limit=limit,
                           after=None if cursor is None else decode_cursor(cursor))
        items = deployment.oms.orders.search(query)
        last = items[-1] if len(items) == limit else None
        return OrderPage(items=items, next_cursor=None if last is None else
                         encode_cursor(last.placed_at, last.id))

    def _order(self, request: Req, deployment: Dep, order_id: str) -> Order:
        return order_in_reach(request.user, deployment.oms.orders.get(order_id))

    @get("/{order_id:str}", sync_to_thread=True, responses=ERRORS)
    def read(self, request: Req, deployment: Dep,
             order_id: FromPath[str]) -> Response[OrderView]:
        """One order, with its version as the ETag."""
        order = self._order(request, deployment, order_id)
        return Response(OrderView.of(order), headers={"ETag": f'"{order.version}"'})

    @get("/{order_id:str}/timeline", sync_to_thread=True, responses=ERRORS)
    def timeline(self, request: Req, deployment: Dep,
                 order_id: FromPath[str]) -> list[TimelineEntry]:
        """Everything that happened to the order, oldest first."""
        self._order(request, deployment, order_id)
        return deployment.oms.orders.timeline(order_id)

    @get("/{order_id:str}/routing", sync_to_thread=True, responses=ERRORS)
    def routing(self, request: Req, deployment: Dep,
                order_id: FromPath[str]) -> list[RoutingDecision]:
        """Why the order's stock comes from where it does: every routing decision."""
        require(request.user, Scope.OPERATIONS, Scope.READ)
        self._order(request, deployment, order_id)
        return deployment.oms.orders.explain(order_id)

    @get("/{order_id:str}/payments", sync_to_thread=True, responses=ERRORS)
    def payments(self, request: Req, deployment: Dep,
                 order_id: FromPath[str]) -> PaymentSummary:
        """What was authorised, captured and refunded, and the balance."""
        self._order(request, deployment, order_id)
        return deployment.oms.payments.summary(order_id)

    def _change(self, request: Req, deployment: Dep, order_id: str, body: object,
                change: Any, *scopes: Scope) -> Response[OrderView]:
        require_write(request.user, *scopes)

        def work() -> Reply:
            order = change_at_version(request.headers, deployment.oms,
                                      self._order(request, deployment, order_id), change)
            return reply(order, order=order)
        return deployment.write(request, body, work)

    @post("/{order_id:str}/cancel", sync_to_thread=True, responses=ERRORS, status_code=200)
    def cancel(self, request: Req, deployment: Dep, order_id: FromPath[str], data: JSONBody[Reason],
               idempotency_key: IdempotencyKey, if_match: IfMatch) -> Response[OrderView]:
        """Cancel what is not shipped; payments are voided or refunded."""
        return self._change(request, deployment, order_id, data,
                            lambda: deployment.oms.orders.cancel(order_id, data.reason),
                            Scope.OPERATIONS, Scope.CHANNEL)

    @post("/{order_id:str}/holds", sync_to_thread=True, responses=ERRORS, status_code=200)
    def hold(self, request: Req, deployment: Dep, order_id: FromPath[str], data: JSONBody[NewHold],
             idempotency_key: IdempotencyKey, if_match: IfMatch) -> Response[OrderView]:
        """Put a hold on the order (idempotent per hold code)."""
        return self._change(request, deployment, order_id, data,
                            lambda: deployment.oms.orders.place_hold(order_id, data.code,
                                                                     data.reason),
                            Scope.OPERATIONS)

    @post("/{order_id:str}/holds/{code:str}/release", sync_to_thread=True,
          responses=ERRORS, status_code=200)
    def release_hold(self, request: Req, deployment: Dep, order_id: FromPath[str],
                     code: FromPath[str],
                     idempotency_key: IdempotencyKey, if_match: IfMatch) -> Response[OrderView]:
        """Release a hold; when none is left, what the order lacks is routed."""
        return self._change(request, deployment, order_id, None,
                            lambda: deployment.oms.orders.release_hold(order_id, code),
                            Scope.OPERATIONS)

    @post("/{order_id:str}/tracking-links", sync_to_thread=True, responses=ERRORS,
          status_code=201)
    def tracking_link(self, request: Req, deployment: Dep, order_id: FromPath[str],
                      idempotency_key: IdempotencyKey) -> Response[TrackingLink]:
        """A link the customer opens to follow the order (its token is shown once)."""
        require_write(request.user, Scope.OPERATIONS, Scope.CHANNEL)

        def work() -> Reply:
            self._order(request, deployment, order_id)
            token = deployment.tracking_links.issue(order_id)
            return reply(TrackingLink(url=f"/track/{token}", token=token), status=201)
        return deployment.write(request, None, work)

    @post("/{order_id:str}/release", sync_to_thread=True, responses=ERRORS, status_code=200)
    def release(self, request: Req, deployment: Dep, order_id: FromPath[str],
                idempotency_key: IdempotencyKey, if_match: IfMatch) -> Response[OrderView]:
        """Release the order's fulfilment orders to their locations for picking."""
        return self._change(request, deployment, order_id, None,
                            lambda: deployment.oms.fulfillment.release(order_id),
                            Scope.OPERATIONS)


class FulfillmentController(Controller):
    """A location's work: its queue and each step of a fulfilment order."""

    path = "/fulfilment-orders"
    tags = ["fulfilment"]

    def _fo(self, request: Req, deployment: Dep, fo_id: str) -> FulfillmentOrder:
        return fulfillment_in_reach(request.user, deployment.oms.fulfillment.get(fo_id))

    @get("/{fulfillment_order_id:str}", sync_to_thread=True, responses=ERRORS)
    def read(self, request: Req, deployment: Dep,
             fulfillment_order_id: FromPath[str]) -> FulfillmentOrder:
        """One fulfilment order."""
        return self._fo(request, deployment, fulfillment_order_id)

    def _step(self, request: Req, deployment: Dep, fo_id: str, body: object,
              step: Any) -> Response[FulfillmentOrder]:
        require_write(request.user, Scope.OPERATIONS, Scope.STORE)

        def work() -> Reply:
            self._fo(request, deployment, fo_id)
            return reply(step())
        return deployment.write(request, body, work)

    @post("/{fulfillment_order_id:str}/accept", sync_to_thread=True,
          responses=ERRORS, status_code=200)
    def accept(self, request: Req, deployment: Dep, fulfillment_order_id: FromPath[str],
               idempotency_key: IdempotencyKey) -> Response[FulfillmentOrder]:
        """The location takes the work on."""
        return self._step(request, deployment, fulfillment_order_id, None,
                          lambda: deployment.oms.fulfillment.accept(fulfillment_order_id))

    @post("/{fulfillment_order_id:str}/pick", sync_to_thread=True,
          responses=ERRORS, status_code=200)
    def pick(self, request: Req, deployment: Dep, fulfillment_order_id: FromPath[str],
             idempotency_key: IdempotencyKey) -> Response[FulfillmentOrder]:
        """Every unit is picked."""
        return self._step(request, deployment, fulfillment_order_id, None,
                          lambda: deployment.oms.fulfillment.pick(fulfillment_order_id))

    @post("/{fulfillment_order_id:str}/pack", sync_to_thread=True,
          responses=ERRORS, status_code=200)
    def pack(self, request: Req, deployment: Dep, fulfillment_order_id: FromPath[str],
             idempotency_key: IdempotencyKey) -> Response[FulfillmentOrder]:
        """Every unit is packed."""
        return self._step(request, deployment, fulfillment_order_id, None,
                          lambda: deployment.oms.fulfillment.pack(fulfillment_order_id))

    @post("/{fulfillment_order_id:str}/ship", sync_to_thread=True,
          responses=ERRORS, status_code=200)
    def ship(self, request: Req, deployment: Dep, fulfillment_order_id: FromPath[str],
             data: JSONBody[ShipBody],
             idempotency_key: IdempotencyKey) -> Response[FulfillmentOrder]:
        """Everything not yet shipped leaves in one shipment (a label bought elsewhere)."""
        return self._step(request, deployment, fulfillment_order_id, data,
                          lambda: deployment.oms.fulfillment.ship(
                              fulfillment_order_id, carrier=data.carrier,
                              tracking_number=data.tracking_number))

    @post("/{fulfillment_order_id:str}/deliver", sync_to_thread=True,
          responses=ERRORS, status_code=200)
    def deliver(self, request: Req, deployment: Dep, fulfillment_order_id: FromPath[str],
                idempotency_key: IdempotencyKey) -> Response[FulfillmentOrder]:
        """The shipment reached the customer."""
        return self._step(request, deployment, fulfillment_order_id, None,
                          lambda: deployment.oms.fulfillment.deliver(fulfillment_order_id))

    @post("/{fulfillment_order_id:str}/ready-for-pickup", sync_to_thread=True,
          responses=ERRORS, status_code=200)
    def ready_for_pickup(self, request: Req, deployment: Dep,
                         fulfillment_order_id: FromPath[str],
                         idempotency_key: IdempotencyKey) -> Response[FulfillmentOrder]:
        """A pickup at its own store is set aside for the customer (``pickup.ready``): 409
        while goods are still coming by transfer."""
        return self._step(request, deployment, fulfillment_order_id, None,
                          lambda: deployment.oms.pickups.ready(fulfillment_order_id))

    @post("/{fulfillment_order_id:str}/collect", sync_to_thread=True,
          responses=ERRORS, status_code=200)
    def collect(self, request: Req, deployment: Dep, fulfillment_order_id: FromPath[str],
                data: JSONBody[Collection],
                idempotency_key: IdempotencyKey) -> Response[FulfillmentOrder]:
        """The customer collected ``lines`` (none: everything ready) of a ready pickup."""
        collection = scoped_key(request)
        return self._step(request, deployment, fulfillment_order_id, data,
                          lambda: deployment.oms.pickups.collect(
                              fulfillment_order_id, list(data.lines),
                              collection_id=collection))

    @post("/{fulfillment_order_id:str}/reject", sync_to_thread=True,
          responses=ERRORS, status_code=200)
    def reject(self, request: Req, deployment: Dep, fulfillment_order_id: FromPath[str],
               data: JSONBody[Reason], idempotency_key: IdempotencyKey) -> Response[OrderView]:
        """The location cannot fulfil it: the order is re-routed elsewhere (or held)."""
        require_write(request.user, Scope.OPERATIONS, Scope.STORE)

        def work() -> Reply:
            self._fo(request, deployment, fulfillment_order_id)
            order = deployment.oms.fulfillment.reject(fulfillment_order_id, data.reason)
            # A store sees the order it rejected no further than the rejection itself.
            return reply(order, order=order)
        return deployment.write(request, data, work)


class InventoryController(Controller):
    """Locations, their stock and their work queues."""

    path = "/"
    tags = ["inventory"]

    @get("/locations", sync_to_thread=True, responses=ERRORS)
    def locations(self, request: Req, deployment: Dep) -> list[Location]:
        """Every location (a store key: its own)."""
        key = request.user
        require(key, Scope.OPERATIONS, Scope.READ, Scope.STORE)
        found = deployment.oms.inventory.locations()
        return [loc for loc in found if key.sees_everything or loc.code == key.location]

    @post("/locations", sync_to_thread=True, responses=ERRORS, status_code=200)
    def save_location(self, request: Req, deployment: Dep, data: JSONBody[Location],
                      idempotency_key: IdempotencyKey) -> Response[Location]:
        """Create or replace a location (by its code)."""
        require_write(request.user, Scope.OPERATIONS)
        return deployment.write(request, data, lambda: reply(
            deployment.oms.inventory.save_location(data)))

    @get("/locations/{code:str}/fulfilment-orders", sync_to_thread=True, responses=ERRORS)
    def queue(self, request: Req, deployment: Dep, code: FromPath[str],
              limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 200) -> list[FulfillmentOrder]:
        """The location's work queue: released, accepted, picked and packed, oldest first."""
        location_in_reach(request.user, code)
        deployment.oms.inventory.location(code)  # 404 for an unknown location
        return deployment.oms.fulfillment.at_location(code, limit=limit)

    @get("/stock/{sku:str}", sync_to_thread=True, responses=ERRORS)
    def stock(self, request: Req, deployment: Dep, sku: FromPath[str],
              at: FromQuery[datetime | None] = None,
              channel: FromQuery[str | None] = None) -> StockView:
        """A SKU across every location (stores, DCs, 3PLs, suppliers), with totals per kind
        of location and what is in transit; with ``at``, available to promise by then
        (supply due by ``at`` counted), per location and for the network (with ``channel``:
        only what that channel's orders may get)."""
        require(request.user, Scope.OPERATIONS, Scope.READ)
        inventory = deployment.oms.inventory
        stock = inventory.stock(sku)
        if at is not None and at.tzinfo is None:
            raise InvalidCommand(["at: needs a time zone (UTC: ...Z)"], subject="stock query")
        atp = None if at is None and channel is None else inventory.available(
            sku, at=at, channel=channel)
        return StockView.of(stock, at=at, channel=channel, available_at=atp)

    @get("/locations/{code:str}/stock/{sku:str}", sync_to_thread=True, responses=ERRORS)
    def stock_item(self, request: Req, deployment: Dep, code: FromPath[str],
                   sku: FromPath[str]) -> StockItem:
        """One SKU at one location (zero when the location never had it)."""
        location_in_reach(request.user, code)
        deployment.oms.inventory.location(code)
        found = deployment.oms.inventory.stock_item(code, sku)
        return found if found is not None else StockItem(location=code, sku=sku)

    @post("/locations/{code:str}/receipts", sync_to_thread=True, responses=ERRORS, status_code=201)
    def receive(self, request: Req, deployment: Dep, code: FromPath[str], data: JSONBody[Receipt],
                idempotency_key: IdempotencyKey) -> Response[StockItem]:
        """Units arrived at the location (waiting backorders are served)."""
        require_write(request.user, Scope.OPERATIONS, Scope.STORE)
        location_in_reach(request.user, code)
        return deployment.write(request, data, lambda: reply(
            deployment.oms.inventory.receive(code, data.sku, data.quantity,
                                             reference=data.reference), status=201))


class WebhookController(Controller):
    """Channels', providers' and carriers' webhooks: no API key; their plugin checks the
    signature over the raw body, and de-duplicates deliveries."""

    path = "/webhooks"
    tags = ["webhooks"]

    @post("/payments/{provider:str}", sync_to_thread=True, responses=ERRORS, status_code=200)
    def payment(self, request: Req, deployment: Dep, provider: FromPath[str],
                body: RawBody) -> dict[str, int]:
        """A payment provider's notification; answers how many ledger entries it added."""
        entries = deployment.oms.payments.handle_webhook(provider, dict(request.headers), body)
        return {"recorded": len(entries)}

    @post("/carriers/{carrier:str}", sync_to_thread=True, responses=ERRORS, status_code=200)
    def carrier(self, request: Req, deployment: Dep, carrier: FromPath[str],
                body: RawBody) -> TrackingResult:
        """A carrier's tracking notification: how many events were new, seen before,
        applied."""
        return deployment.oms.shipping.receive_webhook(carrier, dict(request.headers), body)


    @post("/channels/{code:str}", sync_to_thread=True, responses=ERRORS, status_code=200)
    def channel(self, request: Req, deployment: Dep, code: FromPath[str],
                body: RawBody) -> ChannelWebhookAnswer:
        """A sales channel's order webhook, verified by its connector plugin over the raw
        body (``marketplace``: the shop's HMAC); a redelivery answers the same order and
        places nothing more. A topic the plugin ignores answers ``order_id: null``."""
        receive = CHANNEL_WEBHOOKS.get(code)
        if receive is None:
            raise UnknownChannel(code)
        order = receive(deployment.oms, dict(request.headers), body)
        return ChannelWebhookAnswer(
            order_id=None if order is None else order.id,
            channel=None if order is None else order.channel,
            external_id=None if order is None else order.external_id)


class KeyController(Controller):
    """API keys (admin only)."""

    path = "/keys"
    tags = ["keys"]

    @get(sync_to_thread=True, responses=ERRORS)
    def list_keys(self, request: Req, deployment: Dep) -> list[ApiKey]:
        """Every key, live and revoked, without secrets."""
        require(request.user)
        return deployment.keys.list()

    @post(sync_to_thread=True, responses=ERRORS, status_code=201)
    def issue(self, request: Req, deployment: Dep, data: JSONBody[NewKey],
              idempotency_key: IdempotencyKey) -> Response[IssuedKeyBody]:
        """A new key; its token is in this answer only."""
        require(request.user)
        return deployment.write(request, data, lambda: reply(IssuedKeyBody(
            **_issued(deployment.keys.issue(data.name, data.scope, location=data.location,
                                            channel=data.channel))), status=201))

    @post("/{key_id:str}/rotate", sync_to_thread=True, responses=ERRORS, status_code=201)
    def rotate(self, request: Req, deployment: Dep, key_id: FromPath[str],
               idempotency_key: IdempotencyKey) -> Response[IssuedKeyBody]:
        """A new key with the same scope; the old one stops working."""
        require(request.user)
        return deployment.write(request, None, lambda: reply(
            IssuedKeyBody(**_issued(deployment.keys.rotate(key_id))), status=201))

    @post("/{key_id:str}/revoke", sync_to_thread=True, responses=ERRORS, status_code=200)
    def revoke(self, request: Req, deployment: Dep, key_id: FromPath[str],
               idempotency_key: IdempotencyKey) -> Response[ApiKey]:
        """The key stops working at once."""
        require(request.user)
        return deployment.write(request, None, lambda: reply(deployment.keys.revoke(key_id)))


def _issued(issued: Any) -> dict[str, Any]:
    return {"key": issued.key, "token": issued.token}


@get("/health", sync_to_thread=False)
def health() -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


CONTROLLERS = [OrderController, FulfillmentController, InventoryController,
               WebhookController, KeyController]
