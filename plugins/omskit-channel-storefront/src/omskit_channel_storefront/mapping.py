"""From a structured :class:`OrderPayload` to omskit's canonical :class:`PlaceOrder`.

Where each payload field lands:

- ``source`` → ``channel`` (``web`` / ``mobile``): orders are idempotent per channel and
  external id, so a web order and an app order may share an id without colliding.
- ``id`` → ``external_id``; ``created_at`` → ``placed_at``; ``currency``, ``tags`` as they are.
- ``customer`` → ``Customer(id, segment, Contact(name="first last", email, phone))``.
- ``fulfillment`` → ``DeliveryMethod`` (ship, or pickup at ``location``).
- addresses → ``Address``; ``lat``/``lon`` → ``Coordinates``.
- ``items`` → ``NewLine`` s; ``source``, ``note``, ``app`` and ``attributes`` → ``metadata``.
- ``cart_id`` and ``promised_date`` (from checkout) as they are: the cart's soft hold becomes
  the order's reservation, and the quoted date is kept (or its move is in the timeline).
"""

from __future__ import annotations

from typing import Any

from omskit import (
    Address,
    Contact,
    Coordinates,
    Customer,
    DeliveryKind,
    DeliveryMethod,
    EditOrder,
    NewLine,
    PlaceOrder,
)

from omskit_channel_storefront.payload import (
    AddressPayload,
    CustomerPayload,
    EditPayload,
    FulfillmentPayload,
    OrderPayload,
    PickupFulfillment,
)


def to_customer(customer: CustomerPayload) -> Customer:
    """The customer with a contact snapshot; the name is first and last name joined."""
    name = " ".join(part.strip() for part in (customer.first_name, customer.last_name)
                    if part.strip())
    return Customer(
        id=customer.id,
        segment=customer.segment,
        contact=Contact(name=name, email=customer.email, phone=customer.phone),
    )


def to_address(address: AddressPayload | None) -> Address | None:
    """The postal address, with coordinates when the shop sent both of them."""
    if address is None:
        return None
    coordinates = (Coordinates(lat=address.lat, lon=address.lon)
                   if address.lat is not None and address.lon is not None else None)
    return Address(
        line1=address.line1,
        line2=address.line2,
        city=address.city,
        postal_code=address.postal_code,
        region=address.region,
        country=address.country,
        name=address.name,
        coordinates=coordinates,
    )


def to_delivery(fulfillment: FulfillmentPayload) -> DeliveryMethod:
    """Ship (omskit's default), or pick up at the named location."""
    if isinstance(fulfillment, PickupFulfillment):
        return DeliveryMethod(kind=DeliveryKind.PICKUP, pickup_location=fulfillment.location)
    return DeliveryMethod(kind=DeliveryKind.SHIP)


def to_metadata(order: OrderPayload) -> dict[str, Any]:
    """What omskit has no field for but people will ask about: source, note, app, attributes.

    A blank note is dropped: shops send ``""`` for an untouched text box.
    """
    metadata: dict[str, Any] = {"source": order.source}
    if order.note is not None and order.note.strip():
        metadata["note"] = order.note
    if order.app is not None:
        metadata["app"] = {"platform": order.app.platform, "version": order.app.version}
    if order.attributes:
        metadata["attributes"] = dict(order.attributes)
    return metadata


def to_place_order(order: OrderPayload) -> PlaceOrder:
    """The ``PlaceOrder`` command; raises omskit's ``InvalidCommand`` if omskit refuses it."""
    return PlaceOrder(
        channel=order.source,
        external_id=order.id,
        currency=order.currency,
        customer=to_customer(order.customer),
        lines=[NewLine(sku=item.sku, quantity=item.quantity, unit_price=item.unit_price,
                       line_id=item.line_id)
               for item in order.items],
        delivery=to_delivery(order.fulfillment),
        shipping_address=to_address(order.shipping_address),
        billing_address=to_address(order.billing_address),
        tags=order.tags,
        metadata=to_metadata(order),
        placed_at=order.created_at,
        cart_id=order.cart_id,
        promised_date=order.promised_date,
    )


def to_edit_order(edit: EditPayload) -> EditOrder:
    """The ``EditOrder`` for an edit; raises omskit's ``InvalidCommand`` if omskit refuses it.

    ``source`` is the channel the edit comes from and ``order`` the order it changes (the
    channel it was placed on and the shop's id of it); ``edit_id`` is the idempotency key
    and ``customer:<customer_id>`` the actor.
    """
    return EditOrder(
        channel=edit.source,
        actor=f"customer:{edit.customer_id}",
        idempotency_key=edit.edit_id,
        order_channel=edit.order.source,
        order_external_id=edit.order.id,
        expected_version=edit.order_version,
        quantities={item.line_id: item.quantity for item in edit.items},
        add_lines=[NewLine(sku=item.sku, quantity=item.quantity, unit_price=item.unit_price,
                           line_id=item.line_id) for item in edit.add_items],
        shipping_address=to_address(edit.shipping_address),
        delivery=None if edit.fulfillment is None else to_delivery(edit.fulfillment),
    )
