"""Every interface a plugin implements or receives, in one module (typing ``Protocol`` classes).

A contribution kind (``omskit.kinds``) names one of these Protocols; a contribution is checked
against it when it registers, so a misfit fails at ``bootstrap`` with the plugin's name
instead of on the first order that reaches it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from omskit.domain.carriers import CarrierRate
from omskit.domain.commands import PlaceOrder
from omskit.domain.inventory import Location, StockItem
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
from omskit.domain.values import Coordinates


class ChannelConnector(Protocol):
    """Turns a sales channel's order payload into a :class:`PlaceOrder` command.

    ``code`` is the channel code the connector's orders carry (``PlaceOrder.channel``), so it
    must be a valid channel code: lower-case letters, digits and ``_ . : -``.
    """

    code: str

    def parse(self, payload: Mapping[str, Any]) -> PlaceOrder:
        """Return the command, or raise ``PayloadError`` listing every problem found."""
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

__all__ = ["CAPABILITY_METHODS", "Carrier", "ChannelConnector", "InventoryReader",
           "RoutingStrategy", "ShippingCarrier"]
