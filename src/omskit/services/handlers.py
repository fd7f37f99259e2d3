"""The core's reactions to events: a table of handlers per event type.

They run after commit, through the same outbox dispatcher, leases and retries as plugins'
``omskit_handle_event`` (core handlers first), so a reaction is never lost with a crash
between the change and the reaction, and a failing one is retried and, at worst, parked for
an operator. Handlers are idempotent: delivery is at least once.

Events whose type has no core handler are stored as already dispatched when no plugin
observes events, so the placement path writes no extra row and makes no extra transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from omskit.domain.channels import ChannelStatus
from omskit.domain.edits import OrderEditCommitted
from omskit.domain.events import (
    CartHoldEnded,
    Event,
    FulfillmentOrderStatusChanged,
    OrderCancelled,
    OrderLinesCancelled,
    OrderShortClosed,
    ReservationReleased,
    ShipmentShipped,
    StockAdjusted,
    StockReceived,
    StockTransferred,
    SupplyReceived,
    SupplyRegistered,
)
from omskit.domain.lifecycle import OrderStatus
from omskit.domain.payments import (
    PaymentAction,
    PaymentAuthorisationRequested,
    PaymentOutcome,
    PaymentRecorded,
)
from omskit.plugins import Hooks
from omskit.services.dropship import purchase_on_release
from omskit.services.handle import Services

#: A core reaction to one committed event.
Handler = Callable[[Event, Services], None]


#: Events after which a SKU may have more promisable stock than before.
_STOCK_EVENTS = (StockReceived, StockAdjusted, StockTransferred, SupplyReceived,
                 ReservationReleased, CartHoldEnded)


def allocate_backorders(event: Event, services: Services) -> None:
    """Stock of the event's SKU became promisable: offer it to the orders waiting for it,
    best-ranked first (``oms.orders.allocate_waiting``)."""
    if not isinstance(event, _STOCK_EVENTS):
        return
    if isinstance(event, StockAdjusted) and event.on_hand_delta < 0:
        return  # less stock: nobody waiting can be served by it
    if isinstance(event, StockTransferred) and event.supply_id is not None:
        return  # in transit: it is supply until received (SupplyReceived comes then)
    services.orders.allocate_waiting([event.sku])


def release_unknown_sku_holds(event: Event, services: Services) -> None:
    """The event's SKU is stocked or expected now: orders held only because nobody stocked
    or expected it are validated again (and routed when nothing else holds them),
    best-ranked first, before the waiting backorders are offered the stock."""
    if isinstance(event, _ARRIVALS):
        services.orders.revalidate_unknown_skus([event.sku])


#: Events after which a SKU may be stocked or expected where it was not before.
_ARRIVALS = (StockReceived, StockAdjusted, StockTransferred, SupplyReceived, SupplyRegistered)

def authorise_payments(event: Event, services: Services) -> None:
    """An order was placed with tenders to authorise, or its expired authorisation must be
    renewed before release: authorise them now, after the commit (``oms.payments``). A
    decline is recorded on the ``payment_pending`` hold; an unreachable provider fails the
    delivery, which is retried (and parked after too many failures)."""
    if not isinstance(event, PaymentAuthorisationRequested):
        return
    if services.orders.get(event.order).status is OrderStatus.CANCELLED:
        return  # nothing left to pay for
    services.payments.renew_expired(event.order)
    services.payments.authorise(event.order)


def capture_shipment(event: Event, services: Services) -> None:
    """A shipment left: capture its share of the order's payment (the units it carries);
    the last shipment's capture is final (``oms.payments.capture_shipment``)."""
    if isinstance(event, ShipmentShipped):
        services.payments.capture_shipment(event.order, event.fulfillment_order_id,
                                           shipment_id=event.shipment_id, lines=event.lines)


def invoice_shipment(event: Event, services: Services) -> None:
    """A shipment left (and its capture, the handler before, was made): invoice it if its
    goods are paid, by that capture or by funds the channel captured before
    (``oms.invoices.invoice_shipment``)."""
    if isinstance(event, ShipmentShipped):
        services.invoices.invoice_shipment(event.order, event.shipment_id)


def _succeeded(event: Event, action: PaymentAction) -> PaymentRecorded | None:
    if (isinstance(event, PaymentRecorded) and event.action == action.value
            and event.outcome == PaymentOutcome.SUCCESS.value):
        return event
    return None


def post_payment(event: Event, services: Services) -> None:
    """A capture or refund succeeded: post it to the journal (``oms.journal``)."""
    found = _succeeded(event, PaymentAction.CAPTURE) or _succeeded(event, PaymentAction.REFUND)
    if found is not None:
        services.journal.post_payment(found.order, found.transaction_id,
                                      found.idempotency_key)


def issue_payment_documents(event: Event, services: Services) -> None:
    """A capture succeeded: invoice the shipments it paid (late captures, from a webhook or
    a reconciliation, included). A refund succeeded: issue its credit note."""
    if (captured := _succeeded(event, PaymentAction.CAPTURE)) is not None:
        services.invoices.invoice_captured(captured.order)
    elif (refunded := _succeeded(event, PaymentAction.REFUND)) is not None:
        services.invoices.credit_refund(refunded.order, refunded.transaction_id,
                                        refunded.idempotency_key)


def settle_cancellation(event: Event, services: Services) -> None:
    """An order was cancelled: void what is authorised, refund what was captured."""
    if isinstance(event, OrderCancelled):
        services.payments.settle_cancellation(event.order)


def settle_edit(event: Event, services: Services) -> None:
    """An order edit was committed: settle the payment difference (an incremental or new
    authorisation when the total rose, a refund or void-down when it fell), idempotently
    per edit (``oms.payments.settle``)."""
    if isinstance(event, OrderEditCommitted):
        services.payments.settle(event.order, f"edit-{event.edit_id}")


def settle_cancelled_units(event: Event, services: Services) -> None:
    """Units of an order were cancelled (``cancel_lines``) or it was closed short: give back
    their share of the payment (refund what was captured beyond what the order owes now,
    void down what authorisations hold beyond it), idempotently per event. After a short
    close the last shipment's capture is final, and with nothing left to ship the rest of
    each authorisation is released now."""
    if isinstance(event, OrderLinesCancelled | OrderShortClosed):
        kind = "lines" if isinstance(event, OrderLinesCancelled) else "short-close"
        services.payments.settle(event.order, f"{kind}-{event.event_id}", increase=False)


def push_channel_status(event: Event, services: Services) -> None:
    """A shipment left or an order was cancelled: keep the status for the channel the order
    came from, when its connector pushes statuses (``oms.channels.push`` sends it), once
    per event."""
    if isinstance(event, ShipmentShipped):
        services.channels.record_status(
            event.order, ChannelStatus.SHIPPED, key=event.event_id,
            details={"carrier": event.carrier, "tracking_number": event.tracking_number,
                     "fulfillment_order_id": event.fulfillment_order_id})
    elif isinstance(event, OrderCancelled):
        services.channels.record_status(event.order, ChannelStatus.CANCELLED,
                                        key=event.event_id, details={"reason": event.reason})


#: The core's handlers per event type, run in this order before plugins' handlers.
CORE_HANDLERS: Mapping[str, Sequence[Handler]] = {
    **{event_type.event_type: tuple(
        handler for handler, wanted in ((release_unknown_sku_holds, _ARRIVALS),
                                        (allocate_backorders, _STOCK_EVENTS))
        if event_type in wanted)
       for event_type in (*_STOCK_EVENTS, SupplyRegistered)},
    PaymentAuthorisationRequested.event_type: (authorise_payments,),
    ShipmentShipped.event_type: (capture_shipment, invoice_shipment, push_channel_status),
    PaymentRecorded.event_type: (post_payment, issue_payment_documents),
    OrderCancelled.event_type: (settle_cancellation, push_channel_status),
    OrderEditCommitted.event_type: (settle_edit,),
    OrderLinesCancelled.event_type: (settle_cancelled_units,),
    OrderShortClosed.event_type: (settle_cancelled_units,),
    FulfillmentOrderStatusChanged.event_type: (purchase_on_release,),
}


def notify_customer(event: Event, services: Services) -> None:
    """An event a customer hears about (order confirmed, shipped, delivered...): send their
    message once through the notifiers (``oms.notifications.notify``). Failures to render
    or send are recorded on the message, not raised; the sweep retries them."""
    services.notifications.notify(event)


def with_notifications(handlers: Mapping[str, Sequence[Handler]],
                       event_types: Sequence[str]) -> dict[str, tuple[Handler, ...]]:
    """``handlers`` with :func:`notify_customer` run last for each of ``event_types`` (after
    the core's other reactions: the capture of a shipment precedes its message). Installed
    only when a notifier is, so that without one placement settles its events on write."""
    found = {key: tuple(value) for key, value in handlers.items()}
    for event_type in event_types:
        found[event_type] = (*found.get(event_type, ()), notify_customer)
    return found


class EventDelivery:
    """Delivers one committed event: the core's handlers for its type, then every plugin's
    ``omskit_handle_event``. An exception from any of them fails the delivery (the
    dispatcher retries it, and parks it after too many failures)."""

    def __init__(self, hooks: Hooks,
                 handlers: Mapping[str, Sequence[Handler]] = CORE_HANDLERS) -> None:
        self._hooks = hooks
        self._handlers = handlers
        #: The handle handlers receive; set once the services exist (the outbox, which
        #: delivers through this object, is one of them).
        self.services: Services | None = None

    def __call__(self, event: Event) -> None:
        services = self.services
        assert services is not None, "EventDelivery.services is set by Oms"
        for handler in self._handlers.get(event.event_type, ()):
            handler(event, services)
        self._hooks.handle_event(event, services)
