"""The narrow handle on the public services that event handlers and plugins receive."""

from __future__ import annotations

import attrs

from omskit.services.carts import CartService
from omskit.services.channels import ChannelService
from omskit.services.dropship import DropshipService
from omskit.services.edits import OrderEditService
from omskit.services.fulfillment import FulfillmentService
from omskit.services.inventory import InventoryService
from omskit.services.invoices import InvoiceService, JournalService
from omskit.services.monitor import MonitorService
from omskit.services.notifications import NotificationService
from omskit.services.orders import OrderService
from omskit.services.outbox import OutboxService
from omskit.services.payments import PaymentService
from omskit.services.pickups import PickupService
from omskit.services.promise import PromiseService
from omskit.services.returns import ReturnService
from omskit.services.shipping import ShippingService
from omskit.services.sweeps import SweepService


@attrs.frozen(kw_only=True)
class Services:
    """omskit's public services, and nothing else: what ``omskit_handle_event`` and the
    core's event handlers are given instead of the whole ``Oms`` (no engine, no schema
    operations, no plugin manager). The attributes are the ``Oms``'s own services."""

    #: Placing, finding, holding, cancelling and completing orders.
    orders: OrderService
    #: Locations, stock movements, supply and availability.
    inventory: InventoryService
    #: Fulfilment orders: release, accept/reject, pick, pack, ship, deliver.
    fulfillment: FulfillmentService
    #: Orders from channel payloads, through connector plugins.
    channels: ChannelService
    #: Pending and parked events.
    outbox: OutboxService
    #: Delivery-date quotes.
    promise: PromiseService
    #: Soft reservations held for carts.
    carts: CartService
    #: Payment ledgers and provider calls.
    payments: PaymentService
    #: Shipments, parcels, labels and tracking.
    shipping: ShippingService
    #: Invoices and credit notes.
    invoices: InvoiceService
    #: The journal of postings and its export.
    journal: JournalService
    #: Order edits: begin, stage, preview, commit, abandon.
    edits: OrderEditService
    #: Order monitoring: the exceptions, and the sweep that raises each once.
    monitor: MonitorService
    #: The periodic jobs, one process at a time.
    sweeps: SweepService
    #: Returns: request, label, receive, inspect, refund, exchange.
    returns: ReturnService
    #: Pick up in store: ready, collect, expire.
    pickups: PickupService
    #: Purchase orders to suppliers and what they send back (dropship).
    dropship: DropshipService
    #: Customer messages, sent once per event and recipient; customers' preferences.
    notifications: NotificationService
