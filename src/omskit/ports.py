"""Every interface a plugin implements or receives, in one module (typing ``Protocol`` classes).

A contribution kind (``omskit.kinds``) names one of these Protocols; a contribution is checked
against it when it registers, so a misfit fails at ``bootstrap`` with the plugin's name
instead of on the first order that reaches it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from omskit.domain.carriers import CarrierRate
from omskit.domain.commands import EditOrder, PlaceOrder
from omskit.domain.inventory import Location, StockItem
from omskit.domain.notifications import NotificationMessage
from omskit.domain.payments import (
    PaymentCapability,
    PaymentNotification,
    PaymentRequest,
    PaymentResult,
)
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

    ``code`` is the channel code the connector's orders carry (``PlaceOrder.channel``), so it
    must be a valid channel code: lower-case letters, digits and ``_ . : -``.
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

__all__ = ["CAPABILITY_METHODS", "Carrier", "ChannelConnector", "EditingChannelConnector",
           "Geocoder", "InventoryReader", "PaymentProvider", "RoutingStrategy",
           "ShippingCarrier"]


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
