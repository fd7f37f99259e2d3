"""Authentication (an API key per request) and what each key may reach.

Route-level refusals (a read-only key asking to change something, a store key asking for
the order search) answer 403. Object-level ones answer 404, as if the object did not exist:
a store's associate probing another store's fulfilment order, or a channel's key another
channel's order, learns nothing, not even that it exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import anyio.to_thread
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from omskit import (
    FulfillmentOrder,
    FulfillmentOrderNotFound,
    Order,
    OrderNotFound,
    Return,
    ReturnNotFound,
)

from omskit_reference.keys import ApiKey, ApiKeys, Scope

#: Paths that need no API key: the schema, health, and webhooks (verified by their plugin).
PUBLIC_PATHS = ["^/schema", "^/health", "^/webhooks/"]


def bearer(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The token of ``Authorization: Bearer <token>``, or ``X-API-Key``."""
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return connection.headers.get("x-api-key") or None


class ApiKeyAuthentication(AbstractAuthenticationMiddleware):
    """Finds the request's API key; a missing, unknown or revoked one is a 401."""

    async def authenticate_request(
            self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        """Look the key up: one this process verified a moment ago on the event loop, any
        other off it (reading the database)."""
        token = bearer(connection)
        if token is None:
            raise NotAuthorizedException("an API key is required: Authorization: Bearer <key>")
        keys = cast("ApiKeys", connection.app.state.api_keys)
        key = keys.remembered(token)
        if key is None:
            key = await anyio.to_thread.run_sync(keys.authenticate, token)
        if key is None:
            raise NotAuthorizedException("unknown or revoked API key")
        return AuthenticationResult(user=key, auth=token)


def require(key: ApiKey, *scopes: Scope) -> None:
    """403 unless the key has one of ``scopes`` (``admin`` always may)."""
    if key.scope is not Scope.ADMIN and key.scope not in scopes:
        raise PermissionDeniedException(
            f"a {key.scope} key may not do this (needs {' or '.join(scopes) or 'admin'})")


def require_write(key: ApiKey, *scopes: Scope) -> None:
    """403 for a read-only key, or one without any of ``scopes`` (when given)."""
    if not key.writes:
        raise PermissionDeniedException("a read-only key may not change anything")
    if scopes:
        require(key, *scopes)


def order_in_reach(key: ApiKey, order: Order) -> Order:
    """The order, if the key may see it; else 404 (``OrderNotFound``)."""
    if key.sees_everything:
        return order
    if key.scope is Scope.CHANNEL and order.channel == key.channel:
        return order
    if key.scope is Scope.STORE and (
            any(fo.location == key.location for fo in order.fulfillment_orders)
            or order.delivery.pickup_location == key.location):
        return order
    raise OrderNotFound(order.id)


def fulfillment_in_reach(key: ApiKey, fo: FulfillmentOrder) -> FulfillmentOrder:
    """The fulfilment order, if the key may work on it; else 404."""
    if key.sees_everything or (key.scope is Scope.STORE and fo.location == key.location):
        return fo
    raise FulfillmentOrderNotFound(fo.id)


def location_in_reach(key: ApiKey, location: str) -> None:
    """403 for a store key asking about another location, or a channel key."""
    if key.sees_everything:
        return
    if key.scope is Scope.STORE and key.location == location:
        return
    raise PermissionDeniedException(f"this key does not work for location {location!r}")


def return_in_reach(key: ApiKey, rma: Return, order: Callable[[], Order]) -> Return:
    """The return, if the key may see it; else 404 (``ReturnNotFound``). A store sees the
    returns brought to it; a channel the returns of its orders (``order`` is read only then)."""
    if key.sees_everything:
        return rma
    if key.scope is Scope.STORE and key.location is not None and (
            rma.location == key.location
            or any(r.location == key.location for r in rma.receipts)):
        return rma
    if key.scope is Scope.CHANNEL and order().channel == key.channel:
        return rma
    raise ReturnNotFound(rma.id)


def acting_channel(key: ApiKey, asked: str | None, *, default: str) -> str:
    """The channel a request acts for (a quote, a cart hold, an edit): a channel key's own
    (403 for another one); for other keys, the one asked for, else ``default``."""
    if key.scope is Scope.CHANNEL:
        if asked not in (None, key.channel):
            raise PermissionDeniedException(f"this key acts for channel {key.channel!r} only")
        return str(key.channel)
    return asked or default
