"""Every interface a plugin implements or receives, in one module (typing ``Protocol`` classes).

A contribution kind (``omskit.kinds``) names one of these Protocols; a contribution is checked
against it when it registers, so a misfit fails at ``bootstrap`` with the plugin's name
instead of on the first order that reaches it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, Protocol

from omskit.domain.carriers import CarrierRate
from omskit.domain.channels import ChannelStatusUpdate
from omskit.domain.commands import EditOrder, PlaceOrder
from omskit.domain.dropship import (
    PurchaseOrderDocument,
    ShipNotice,
    StockFeed,
    SupplierResponse,
)
from omskit.domain.inventory import Location, StockItem
from omskit.domain.notifications import NotificationMessage
from omskit.domain.payments import (
    PaymentCapability,
    PaymentNotification,
    PaymentRequest,
    PaymentResult,
)
from omskit.domain.relays import RelayMessage
from omskit.domain.returns import RefundContext, RefundQuote, ReturnContext, ReturnRefusal
from omskit.domain.routing import Candidate, RoutingPlan, RoutingRequest
from omskit.domain.shipping import (
    CarrierCapability,
    Label,
    LabelRequest,
    PickupConfirmation,
    PickupRequest,
    RateRequest,
    ShippingRate,
    TrackingUpdate,
)
from omskit.domain.values import Address, Coordinates


class ChannelConnector(Protocol):
    """Turns a sales channel's order payload into a :class:`PlaceOrder` command.

    ``code`` is a valid channel code (lower-case letters, digits and ``_ . : -``), unique
    across plugins. It heads the connector's namespace of order channels: its orders carry
    (``PlaceOrder.channel``) its code, a sub-channel ``<code>:<name>`` (one marketplace
    shop, one store), or a channel it declares in an optional ``channels`` attribute (a
    frozenset of codes, and their sub-channels). Orders are idempotent per channel and
    external id, so the core refuses a command outside the namespace (``ChannelNotOwned``)
    and a second connector whose namespace overlaps (``DuplicateContribution``).
    """

    code: str

    def parse(self, payload: Mapping[str, Any]) -> PlaceOrder:
        """Return the command, or raise ``PayloadError`` listing every problem found."""
        ...


class EditingChannelConnector(ChannelConnector, Protocol):
    """A channel connector that also takes order edits: the optional ``parse_edit`` of the
    channel contract. A connector without it takes none (``oms.channels.receive_edit``
    raises ``EditsNotSupported``); one with it is checked for it when it registers.

    The edit names the order by the channel it was placed on and that channel's id of it
    (``EditOrder.order_channel``, ``order_external_id``), so an app can edit an order the
    web shop placed; ``EditOrder.channel`` is where the edit comes from, and its
    ``idempotency_key`` makes a re-delivered edit commit once.
    """

    def parse_edit(self, payload: Mapping[str, Any]) -> EditOrder:
        """Return the edit, or raise ``PayloadError`` listing every problem found."""
        ...


class StatusPushingChannelConnector(ChannelConnector, Protocol):
    """A channel connector that tells its channel what became of the orders it sent: the
    optional ``push_status`` of the channel contract (checked at registration when there).

    The core records an update when an order of the connector's namespace is accepted,
    ships (with carrier and tracking) or is cancelled, and ``oms.channels.push()`` sends
    the due ones, outside any transaction; an exception from ``push_status`` keeps the
    update for a later attempt. Delivery is at least once: the channel may see an update
    twice (``update.id`` is stable) and must take it so.
    """

    def push_status(self, update: ChannelStatusUpdate) -> None:
        """Tell the channel; raise on failure (the update is retried later)."""
        ...


class RoutingStrategy(Protocol):
    """Chooses locations for a request. ``plan`` must be pure: it reads only its arguments.

    Candidates arrive already filtered by the rules, with holdbacks taken off their
    availability and capacity-exhausted locations removed, and priced. The order service
    reserves the plan's quantities with conditional updates; if another order took the stock
    in between, the unreserved remainder is planned again with fresh candidates.
    """

    code: str

    def plan(self, request: RoutingRequest, candidates: Sequence[Candidate]) -> RoutingPlan:
        """Return allocations that never exceed a candidate's ``available`` per SKU."""
        ...


class Carrier(Protocol):
    """A carrier's rate card. ``rate`` must be pure and fast: it is called per candidate."""

    @property
    def code(self) -> str:
        """The carrier's unique code."""
        ...

    def rate(self, origin: Location, destination: Coordinates | None,
             distance_km: float | None, country: str | None) -> CarrierRate | None:
        """The rate for the lane, or ``None`` when the carrier does not serve it."""
        ...


class Geocoder(Protocol):
    """Finds coordinates for a postal address, so an order that carries only an address (a
    marketplace's, a call centre's) is still routed by distance.

    ``geocode`` is called while an order is routed, inside its transaction, once per address
    (answers are cached): it must be fast and must not call a network service. An online
    geocoder belongs in the channel connector, which can put coordinates on the address.
    """

    code: str

    def geocode(self, address: Address) -> Coordinates | None:
        """The address's coordinates, or ``None`` when this geocoder does not know it."""
        ...


class ShippingCarrier(Protocol):
    """A shipping carrier: labels, tracking, webhooks and pickups of one provider.

    Separate from :class:`Carrier` (the rate card routing prices lanes with, pure and called
    per candidate): these calls go over the network, are made by the core outside any
    database transaction, and may fail in three ways the core tells apart
    (``CarrierUnavailable``, ``CarrierRefused``, ``CarrierOutcomeUnknown``). A plugin
    translates one provider's API; the core owns every invariant (a label bought once per
    parcel and key, tracking that never goes back after delivery).

    ``capabilities`` says which methods the core may call: only those are checked when the
    carrier registers and only those are ever called (``CapabilityNotSupported`` otherwise),
    so a carrier without pickups need not implement ``book_pickup``. ``settings`` is the
    mapping given to ``bootstrap`` (read your own key of it).
    """

    code: str
    capabilities: frozenset[CarrierCapability]

    def rates(self, request: RateRequest, settings: Mapping[str, Any]) -> Sequence[ShippingRate]:
        """(``rates``) Offers for the parcels of ``request``; empty when the lane is not
        served."""
        ...

    def buy_label(self, request: LabelRequest, settings: Mapping[str, Any]) -> Label:
        """(``labels``) Buy one parcel's label. ``request.idempotency_key`` must make a
        second call with the same key return the first label, not buy another."""
        ...

    def retrieve_label(self, idempotency_key: str, settings: Mapping[str, Any]) -> Label | None:
        """(``labels``) The label bought under ``idempotency_key``, or None if the carrier
        never sold one: how the core reconciles a call whose outcome is unknown."""
        ...

    def void_label(self, label_id: str, settings: Mapping[str, Any]) -> None:
        """(``void``) Cancel an unused label; voiding a voided label is not an error."""
        ...

    def buy_return_label(self, request: LabelRequest, settings: Mapping[str, Any]) -> Label:
        """(``return_labels``) A label from the customer back to the location, with the
        same idempotency rule as :meth:`buy_label`."""
        ...

    def track(self, tracking_number: str, settings: Mapping[str, Any]) -> Sequence[TrackingUpdate]:
        """(``tracking``) Every tracking event the carrier has for ``tracking_number``."""
        ...

    def parse_webhook(self, headers: Mapping[str, str], body: bytes,
                      settings: Mapping[str, Any]) -> Sequence[TrackingUpdate]:
        """(``webhooks``) Verify the signature over the raw ``body`` and translate it, or
        raise ``InvalidWebhook`` (nothing is written then). ``headers`` have lower-case
        names."""
        ...

    def book_pickup(self, request: PickupRequest,
                    settings: Mapping[str, Any]) -> PickupConfirmation:
        """(``pickups``) Book a collection at a location, idempotent on
        ``request.idempotency_key``."""
        ...


class InventoryReader(Protocol):
    """Read-only stock queries in the caller's transaction (given to validators)."""

    def known_skus(self, skus: Iterable[str]) -> set[str]:
        """The subset of ``skus`` that has a stock row at any location or open supply (stock
        on order or in transit) somewhere: a pre-order for incoming stock is valid."""
        ...

    def location(self, code: str) -> Location | None:
        """The location with this code, or None."""
        ...

    def stock_items(self, sku: str) -> list[StockItem]:
        """Stock rows of ``sku`` at every location."""
        ...


class PaymentProvider(Protocol):
    """Translates omskit's payment operations into one provider's API.

    The core owns every invariant: it writes the request (with its idempotency key) before
    calling, never asks to capture or refund more than is left, reconciles an
    outcome-unknown call through :meth:`retrieve` before calling again, and de-duplicates
    webhooks. A provider only translates: it passes the idempotency key on, maps its answer
    to a :class:`PaymentResult`, and its errors to ``PaymentRetryable``, ``PaymentDeclined``
    or ``PaymentOutcomeUnknown`` (never its SDK's exceptions). Every method may be called
    from several threads at once.
    """

    @property
    def code(self) -> str:
        """The provider's unique code (``PlaceOrder`` tenders name it)."""
        ...

    @property
    def capabilities(self) -> frozenset[PaymentCapability]:
        """What the provider can do; the core refuses what it cannot."""
        ...

    def authorise(self, request: PaymentRequest) -> PaymentResult:
        """Hold ``request.amount`` on ``request.method_token`` (a new payment) or raise it
        by that much (``provider_reference`` set: an incremental authorisation)."""
        ...

    def capture(self, request: PaymentRequest) -> PaymentResult:
        """Take ``request.amount`` of the authorisation; ``request.final`` releases the
        rest."""
        ...

    def void(self, request: PaymentRequest) -> PaymentResult:
        """Release what is left of the authorisation."""
        ...

    def refund(self, request: PaymentRequest) -> PaymentResult:
        """Give ``request.amount`` of what was captured back."""
        ...

    def retrieve(self, request: PaymentRequest) -> PaymentResult | None:
        """How the operation made under ``request.idempotency_key`` ended: its result,
        ``PaymentDeclined`` if it failed, ``None`` if the provider never received it (the
        core may then call again with the same key)."""
        ...

    def parse_webhook(self, headers: Mapping[str, str],
                      body: bytes) -> Sequence[PaymentNotification]:
        """Verify the signature over the raw ``body`` and say what happened; raise
        ``InvalidWebhook`` for a malformed or wrongly signed one. Events the core does not
        track (a customer updated) give an empty sequence."""
        ...


class ReturnsPolicy(Protocol):
    """Judges returns and prices their refunds: a return window, reasons, non-returnable
    goods, fees, where goods may be brought back.

    The core owns every invariant: it never lets a return take more units than were
    shipped, takes each receipt once, moves stock only for restocked units, and pays the
    refund through the payment ledger (never more than was captured). A policy only decides:
    both methods must be pure (they read only their arguments) and fast, as they run inside
    the return's transaction. ``settings`` is the mapping given to ``bootstrap`` (read your
    own key of it).
    """

    code: str

    def evaluate(self, context: ReturnContext,
                 settings: Mapping[str, Any]) -> Sequence[ReturnRefusal]:
        """Every reason to refuse the return (empty: it may be requested). A refusal coded
        ``window_closed`` makes the core raise ``ReturnWindowClosed``; any other,
        ``ReturnRefused``."""
        ...

    def quote(self, context: RefundContext, settings: Mapping[str, Any]) -> RefundQuote:
        """The refund for what came back: items, shipping and fees, in the order's
        currency with its decimals."""
        ...


class SupplierConnector(Protocol):
    """Sends purchase orders to one supplier and reads back what it answers (dropship).

    ``code`` is the code of the supplier's location (a location of kind ``supplier``): a
    fulfilment order released there becomes a purchase order sent through this connector.
    The core owns every invariant: the purchase order is claimed under an idempotency key
    (committed) before :meth:`send_purchase_order` is called, outside any transaction; an
    outcome-unknown send is reconciled with :meth:`find_purchase_order` before any retry;
    each message read back is processed once (by its ``message_id``), so the ``read_*``
    methods may return the same messages again. ``settings`` is the mapping given to
    ``bootstrap`` (read your own key of it).
    """

    code: str

    def send_purchase_order(self, document: PurchaseOrderDocument,
                            settings: Mapping[str, Any]) -> str:
        """Hand the purchase order to the supplier; return the supplier's reference for it
        (or ``""``). A second call with the same ``document.idempotency_key`` must not
        make a second purchase order. Raise ``SupplierUnavailable`` when the supplier did
        not get it, ``SupplierRefused`` when it never will, ``SupplierOutcomeUnknown`` when
        it may have."""
        ...

    def find_purchase_order(self, idempotency_key: str,
                            settings: Mapping[str, Any]) -> str | None:
        """The supplier's reference of the purchase order sent under ``idempotency_key``
        (``""`` when it has none), or ``None`` if the supplier never got it."""
        ...

    def read_responses(self, settings: Mapping[str, Any]) -> Sequence[SupplierResponse]:
        """Acknowledgements and refusals the supplier sent (seen ones again is fine)."""
        ...

    def read_ship_notices(self, settings: Mapping[str, Any]) -> Sequence[ShipNotice]:
        """Ship notices the supplier sent (seen ones again is fine)."""
        ...

    def read_stock_feed(self, settings: Mapping[str, Any]) -> Sequence[StockFeed]:
        """Stock feeds the supplier sent, oldest first (seen ones again is fine)."""
        ...


#: The methods each capability lets the core call.
CAPABILITY_METHODS: Mapping[CarrierCapability, tuple[str, ...]] = {
    CarrierCapability.RATES: ("rates",),
    CarrierCapability.LABELS: ("buy_label", "retrieve_label"),
    CarrierCapability.VOID: ("void_label",),
    CarrierCapability.RETURN_LABELS: ("buy_return_label", "retrieve_label"),
    CarrierCapability.TRACKING: ("track",),
    CarrierCapability.WEBHOOKS: ("parse_webhook",),
    CarrierCapability.PICKUPS: ("book_pickup",),
}

class EventRelay(Protocol):
    """Publishes outbox events to one broker (RabbitMQ, NATS...), keyed by ``code``: the
    name ``oms.outbox.relay(name)`` and ``omskit outbox relay NAME`` take.

    The core claims the events, calls :meth:`publish` outside any transaction, and records
    what the broker confirmed per relay; the plugin only translates to its broker. A relay
    is called by one thread at a time per ``Oms`` worker.
    """

    @property
    def code(self) -> str:
        """The relay's code: lower-case letters, digits and ``_ . : -``."""
        ...

    def publish(self, messages: Sequence[RelayMessage]) -> Collection[str]:
        """Publish ``messages`` in the order given and return the ``message_id`` of each one
        the broker confirmed it holds (persisted). Use ``message_id`` as the broker's
        message id, so a re-publish after a crash is a duplicate it or its consumers drop.

        A message left out is counted as a failed attempt and published again later (with
        the later messages of its order). Raise when the broker cannot be reached at all
        (``RelayUnavailable``, or any exception): the core records a retryable failure on
        the relay and marks nothing delivered.
        """
        ...


class Notifier(Protocol):
    """Delivers rendered customer messages through one provider (an SMTP server, webhook
    endpoints...). The core decides what to send, to whom and when, stores each message
    once before the send and retries failures; the notifier only delivers.

    ``code`` keys it (a valid code); ``media`` is what it delivers (``"email"``: the
    message's ``recipient`` is an address and customers' preferences apply; any other,
    such as ``"webhook"``: it delivers to the integrator's own targets).
    """

    @property
    def code(self) -> str: ...

    @property
    def media(self) -> str: ...

    def send(self, message: NotificationMessage) -> str:
        """Deliver ``message``; return the provider's message id. Raise
        :class:`omskit.NotifierError` (``NotifierUnavailable`` when a later retry may
        succeed, ``NotifierRefused`` when none will); any other exception is treated as
        retryable. Called outside any database transaction."""
        ...


__all__ = ["CAPABILITY_METHODS", "Carrier", "ChannelConnector", "EditingChannelConnector",
           "EventRelay", "Geocoder", "InventoryReader", "Notifier", "PaymentProvider",
           "ReturnsPolicy", "RoutingStrategy", "ShippingCarrier", "SupplierConnector"]
