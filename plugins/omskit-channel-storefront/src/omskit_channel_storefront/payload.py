"""The shape of a storefront order payload, as attrs classes (structured by cattrs).

These classes describe what the web shop or mobile app sends, field for field; they are not
omskit's model (see :mod:`omskit_channel_storefront.mapping` for the translation). Field types
come from :mod:`omskit_channel_storefront.fields`, which says what each one admits. Keys not
declared here are refused, so a misspelt ``postcode`` is reported instead of silently lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal

import attrs

from omskit_channel_storefront.fields import (
    Amount,
    Code,
    Country,
    Currency,
    Email,
    Identifier,
    Latitude,
    LocationCode,
    Longitude,
    Name,
    NewQuantity,
    Note,
    Phone,
    PromisedDate,
    Quantity,
    RequiredText,
    Source,
    Text,
    Version,
)

# Optional text fields default to empty strings, as in omskit's own value objects.
_NO_NAME = Name("")
_NO_PHONE = Phone("")
_NO_TEXT = Text("")


@attrs.frozen(kw_only=True)
class CustomerPayload:
    """Who placed the order (``customer``)."""

    id: Identifier
    email: Email
    first_name: Name = _NO_NAME
    last_name: Name = _NO_NAME
    phone: Phone = _NO_PHONE
    segment: Code | None = None


@attrs.frozen(kw_only=True)
class AddressPayload:
    """A postal address (``shipping_address``, ``billing_address``).

    ``lat`` and ``lon`` come together or not at all; with them omskit routes to the nearest
    location without geocoding the address.
    """

    line1: RequiredText
    city: RequiredText
    country: Country
    name: Text = _NO_TEXT
    line2: Text = _NO_TEXT
    postal_code: Text = _NO_TEXT
    region: Text = _NO_TEXT
    lat: Latitude | None = None
    lon: Longitude | None = None


@attrs.frozen(kw_only=True)
class ShipFulfillment:
    """``{"type": "ship"}``: send the goods to the shipping address."""

    type: Literal["ship"] = "ship"


@attrs.frozen(kw_only=True)
class PickupFulfillment:
    """``{"type": "pickup", "location": "store-milan-duomo"}``: collect at a location."""

    type: Literal["pickup"] = "pickup"
    location: LocationCode


#: The ``fulfillment`` object, told apart by its ``type``.
FulfillmentPayload = ShipFulfillment | PickupFulfillment


@attrs.frozen(kw_only=True)
class ItemPayload:
    """One line of the order (an element of ``items``)."""

    sku: Identifier
    quantity: Quantity
    unit_price: Amount
    line_id: Identifier | None = None


@attrs.frozen(kw_only=True)
class AppPayload:
    """The mobile app that placed the order (``app``), kept for support and analytics."""

    platform: Code
    version: Identifier


#: ``items``: at least one, at most omskit's ``MAX_LINES``.
Items = tuple[ItemPayload, ...]
#: ``tags``: at most ``MAX_TAGS`` identifiers.
Tags = tuple[Identifier, ...]
#: ``attributes``: free string values under short keys, copied to the order's metadata.
Attributes = Mapping[str, Text]


@attrs.frozen(kw_only=True)
class OrderPayload:
    """A whole storefront order: the JSON object the shop posts."""

    id: Identifier
    source: Source
    created_at: datetime
    currency: Currency
    customer: CustomerPayload
    fulfillment: FulfillmentPayload
    items: Items
    shipping_address: AddressPayload | None = None
    billing_address: AddressPayload | None = None
    tags: Tags = ()
    note: Note | None = None
    app: AppPayload | None = None
    attributes: Attributes = attrs.field(factory=dict)
    #: The cart whose soft hold (``oms.carts.hold``) becomes the order's reservation.
    cart_id: Identifier | None = None
    #: The delivery date quoted at checkout (``oms.promise``): kept, or its move recorded.
    promised_date: PromisedDate | None = None


# -- order edits -------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class OrderReferencePayload:
    """The order an edit changes, as the shop placed it (``order``): its source and id."""

    source: Source
    id: Identifier


@attrs.frozen(kw_only=True)
class ItemChangePayload:
    """A line's new quantity (an element of an edit's ``items``); 0 removes the line."""

    line_id: Identifier
    quantity: NewQuantity


@attrs.frozen(kw_only=True)
class AddedItemPayload(ItemPayload):
    """A line an edit adds (an element of ``add_items``): as an order's item."""


#: An edit's ``items``: at most omskit's ``MAX_LINES``.
ItemChanges = tuple[ItemChangePayload, ...]
#: An edit's ``add_items``: at most omskit's ``MAX_LINES``.
AddedItems = tuple[AddedItemPayload, ...]


@attrs.frozen(kw_only=True)
class EditPayload:
    """A change to an order the shop placed, sent by the web shop or the app (the JSON
    object ``parse_edit`` reads): a customer edits from the app an order placed on the site.
    """

    #: The shop's id of this edit request: a re-sent edit commits once.
    edit_id: Identifier
    #: Where the edit comes from.
    source: Source
    order: OrderReferencePayload
    #: Who edits: the shop's customer id.
    customer_id: Identifier
    #: The order version the app showed (``omskit orders show``'s ``version``); optional.
    order_version: Version | None = None
    items: ItemChanges = ()
    add_items: AddedItems = ()
    shipping_address: AddressPayload | None = None
    fulfillment: FulfillmentPayload | None = None
