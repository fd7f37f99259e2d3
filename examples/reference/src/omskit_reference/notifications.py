"""Notifications over HTTP (``oms.notifications``): the messages sent for an order, and a
customer's notification preferences per sales channel (``email`` or ``none``).

An operator reads and changes any customer's preferences with an operations key; the
customer changes theirs through their order's tracking link, whose random token is the
credential (no API key): it reaches that customer and the channel of that order only.
Setting a preference is a PUT: setting the same value again changes nothing.
"""

from __future__ import annotations

from litestar import Controller, get, put
from litestar.params import FromPath, JSONBody
from omskit import Notification, Order, OrderNotFound

from omskit_reference.access import order_in_reach, require, require_write
from omskit_reference.api import Dep, Req
from omskit_reference.bodies import MediaChoice, OrderPreference, Preferences
from omskit_reference.deployment import Deployment
from omskit_reference.keys import Scope
from omskit_reference.problems import ERRORS


class OrderNotificationController(Controller):
    """The messages sent (or being sent) for one order."""

    path = "/orders/{order_id:str}/notifications"
    tags = ["notifications"]

    @get(sync_to_thread=True, responses=ERRORS)
    def for_order(self, request: Req, deployment: Dep,
                  order_id: FromPath[str]) -> list[Notification]:
        """The order's notifications, newest first: kind, recipient, status, attempts,
        when sent and the last error."""
        require(request.user, Scope.OPERATIONS, Scope.READ, Scope.CHANNEL)
        order_in_reach(request.user, deployment.oms.orders.get(order_id))
        return deployment.oms.notifications.list(order_id=order_id)


class CustomerPreferenceController(Controller):
    """A customer's notification preferences, for operations."""

    path = "/customers/{customer_id:str}/notification-preferences"
    tags = ["notifications"]

    @get(sync_to_thread=True, responses=ERRORS)
    def read(self, request: Req, deployment: Dep, customer_id: FromPath[str]) -> Preferences:
        """The customer's choice per sales channel."""
        require(request.user, Scope.OPERATIONS, Scope.READ)
        return Preferences(customer_id=customer_id,
                           channels=deployment.oms.notifications.preferences(customer_id))

    @put("/{channel:str}", sync_to_thread=True, responses=ERRORS, status_code=200)
    def choose(self, request: Req, deployment: Dep, customer_id: FromPath[str],
               channel: FromPath[str], data: JSONBody[MediaChoice]) -> Preferences:
        """Set the customer's choice for their orders from ``channel`` (422 for a medium
        other than ``email`` or ``none``)."""
        require_write(request.user, Scope.OPERATIONS)
        return Preferences(customer_id=customer_id,
                           channels=deployment.oms.notifications.set_preference(
                               customer_id, channel, data.media))


def _tracked(deployment: Deployment, token: str) -> Order:
    order_id = deployment.tracking_links.order_id(token)
    if order_id is None:
        # The same answer as an unknown order: a wrong token learns nothing.
        raise OrderNotFound("(tracking link)")
    return deployment.oms.orders.get(order_id)


class TrackedPreferenceController(Controller):
    """The customer's own preference, through their order's tracking link (no API key)."""

    path = "/track/{token:str}/notification-preferences"
    tags = ["notifications"]
    security = [{}]

    @get(sync_to_thread=True, responses=ERRORS)
    def read(self, deployment: Dep, token: FromPath[str]) -> OrderPreference:
        """What the customer chose for the channel of this order (``email`` when they
        chose nothing)."""
        order = _tracked(deployment, token)
        chosen = deployment.oms.notifications.preferences(order.customer.id)
        return OrderPreference(channel=order.channel, media=chosen.get(order.channel, "email"))

    @put(sync_to_thread=True, responses=ERRORS, status_code=200)
    def choose(self, deployment: Dep, token: FromPath[str],
               data: JSONBody[MediaChoice]) -> OrderPreference:
        """Choose ``email`` or ``none`` for this customer's orders from this order's
        channel."""
        order = _tracked(deployment, token)
        chosen = deployment.oms.notifications.set_preference(order.customer.id, order.channel,
                                                             data.media)
        return OrderPreference(channel=order.channel, media=chosen[order.channel])


CONTROLLERS = [OrderNotificationController, CustomerPreferenceController,
               TrackedPreferenceController]
