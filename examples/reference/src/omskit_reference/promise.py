"""Promise quotes and carts over HTTP (``oms.promise``, ``oms.carts``): the earliest date
per delivery option for some lines, and stock held for a shopper's cart until checkout.

A cart is held (``POST /carts/{id}/hold``: again, the hold is replaced), read, released,
and converted by placing the order with its ``cart_id`` (``POST /orders``): the order takes
the cart's units in the transaction that routes it. A hold nobody converts or releases
expires at its time (``POST /carts/expire``, or the workers' sweep).

omskit does not record whose cart a cart is, so the deployment names them: a channel key's
carts are ``<its channel>:<anything>`` (another id is 404 to it, as if it did not exist),
and its quotes and holds are for its own channel. Operations keys reach every cart.
"""

from __future__ import annotations

from datetime import timedelta

from litestar import Controller, Response, get, post
from litestar.params import FromPath, JSONBody
from omskit import CartHold, CartNotFound, InvalidCommand, PromiseQuote

from omskit_reference.access import acting_channel, require, require_write
from omskit_reference.api import Dep, IdempotencyKey, Req
from omskit_reference.bodies import CartBody, Expired, QuoteBody, Released
from omskit_reference.deployment import reply
from omskit_reference.keys import ApiKey, Scope
from omskit_reference.problems import ERRORS

#: A cart hold lasts from a minute to a week (omskit's bounds).
MIN_TTL, MAX_TTL = 60, 7 * 24 * 3600


def cart_in_reach(key: ApiKey, cart_id: str) -> str:
    """The cart id, if the key may use it: a channel key's carts start with its channel
    and ``:``; anything else is a 404 to it."""
    if key.scope is Scope.CHANNEL and not cart_id.startswith(f"{key.channel}:"):
        raise CartNotFound(cart_id)
    return cart_id


class PromiseController(Controller):
    """Delivery date quotes."""

    path = "/promise"
    tags = ["promise"]

    @post("/quotes", sync_to_thread=True, responses=ERRORS, status_code=200)
    def quote(self, request: Req, deployment: Dep, data: JSONBody[QuoteBody],
              idempotency_key: IdempotencyKey) -> Response[PromiseQuote]:
        """The earliest date per option (shipping, and collection at each store asked for),
        from stock, supply, the routing rules and the carriers. Writes nothing (a read key
        may ask)."""
        key = request.user
        require(key, Scope.OPERATIONS, Scope.READ, Scope.CHANNEL)
        channel = acting_channel(key, data.channel, default="web")
        if data.cart_id is not None:
            cart_in_reach(key, data.cart_id)
        return deployment.write(request, data, lambda: reply(deployment.oms.promise.quote(
            data.lines, destination=data.destination, country=data.country, channel=channel,
            segment=data.segment, pickup_locations=data.pickup_locations, ship=data.ship,
            cart_id=data.cart_id)))


class CartController(Controller):
    """Stock held for a cart until checkout."""

    path = "/carts"
    tags = ["carts"]

    @post("/{cart_id:str}/hold", sync_to_thread=True, responses=ERRORS, status_code=200)
    def hold(self, request: Req, deployment: Dep, cart_id: FromPath[str],
             data: JSONBody[CartBody], idempotency_key: IdempotencyKey) -> Response[CartHold]:
        """Create or update the cart's hold: its lines are routed and held (soft
        reservations) until ``ttl_seconds`` from now; holding again replaces the hold.
        What no location can hold is in ``short``."""
        key = request.user
        require_write(key, Scope.OPERATIONS, Scope.CHANNEL)
        cart_in_reach(key, cart_id)
        channel = acting_channel(key, data.channel, default="web")
        if not MIN_TTL <= data.ttl_seconds <= MAX_TTL:
            # Checked here: a timedelta of any int would overflow before omskit sees it.
            raise InvalidCommand([f"ttl_seconds: from {MIN_TTL} to {MAX_TTL}"], subject="cart")
        return deployment.write(request, data, lambda: reply(deployment.oms.carts.hold(
            cart_id, data.lines, ttl=timedelta(seconds=data.ttl_seconds), channel=channel,
            destination=data.destination, country=data.country, delivery=data.delivery,
            segment=data.segment)))

    @get("/{cart_id:str}", sync_to_thread=True, responses=ERRORS)
    def read(self, request: Req, deployment: Dep, cart_id: FromPath[str]) -> CartHold:
        """The cart's active hold (404 when it holds nothing)."""
        key = request.user
        require(key, Scope.OPERATIONS, Scope.READ, Scope.CHANNEL)
        return deployment.oms.carts.get(cart_in_reach(key, cart_id))

    @post("/{cart_id:str}/release", sync_to_thread=True, responses=ERRORS, status_code=200)
    def release(self, request: Req, deployment: Dep, cart_id: FromPath[str],
                idempotency_key: IdempotencyKey) -> Response[Released]:
        """Give the cart's units back (the shopper left); again: 0."""
        key = request.user
        require_write(key, Scope.OPERATIONS, Scope.CHANNEL)
        cart_in_reach(key, cart_id)
        return deployment.write(request, None, lambda: reply(
            Released(released=deployment.oms.carts.release(cart_id))))

    @post("/expire", sync_to_thread=True, responses=ERRORS, status_code=200)
    def expire(self, request: Req, deployment: Dep,
               idempotency_key: IdempotencyKey) -> Response[Expired]:
        """Give back every hold past its time now (the workers' sweep does it too)."""
        require_write(request.user, Scope.OPERATIONS)
        return deployment.write(request, None, lambda: reply(
            Expired(expired=deployment.oms.carts.expire())))


CONTROLLERS = [PromiseController, CartController]
