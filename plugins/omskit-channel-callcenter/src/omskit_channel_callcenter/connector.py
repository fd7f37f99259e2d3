"""The ``callcenter`` channel connector: orders and order edits an agent enters for a
customer on the phone, each recording the agent.

- An order is placed on channel ``callcenter`` with the call center's order reference as its
  external id; the agent is in its metadata (``placed_by: agent:<id>``) and in its tags.
- An edit names the order by the channel it was placed on and that channel's id of it (an
  agent can change an order the customer placed on the web shop), and goes through omskit's
  order editing (``oms.edits``) with the actor ``agent:<id>``: the timeline says who changed
  what, from the call center. ``edit_ref`` makes a re-sent edit commit once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from omskit import (
    Address,
    Contact,
    Customer,
    DeliveryKind,
    DeliveryMethod,
    EditOrder,
    InvalidCommand,
    NewLine,
    PayloadError,
    PayloadReader,
    PlaceOrder,
    check_currency,
)

#: The connector's code, and the order channel of every call-center order.
CHANNEL_CODE = "callcenter"

_ORDER_FIELDS = {"ref", "agent", "placed_at", "currency", "customer", "items",
                 "shipping_address", "pickup_at", "note"}
_EDIT_FIELDS = {"edit_ref", "agent", "order", "order_version", "items", "add_items",
                "shipping_address", "pickup_at"}
_ITEM_FIELDS = {"sku", "quantity", "unit_price", "line_id"}
_CHANGE_FIELDS = {"line_id", "quantity"}
_CUSTOMER_FIELDS = {"id", "name", "email", "phone", "segment"}
_ADDRESS_FIELDS = {"name", "line1", "line2", "city", "postal_code", "region", "country"}
_ORDER_REF_FIELDS = {"channel", "id"}


def agent_actor(agent: str) -> str:
    """How omskit records the agent: ``agent:<id>`` (the order's ``placed_by``, an edit's
    actor)."""
    return f"agent:{agent}"


def _address(r: PayloadReader, value: Any, path: str) -> Address | None:
    if value is None:
        return None
    found = r.object(value, path, _ADDRESS_FIELDS)
    country = found.get("country")
    if not (isinstance(country, str) and len(country) == 2 and country.isupper()):
        r.fail(f"{path}.country", f"must be a code like 'IT', not {country!r}")
    return Address(line1=r.text(found.get("line1"), f"{path}.line1", required=True),
                   city=r.text(found.get("city"), f"{path}.city", required=True),
                   country=str(country),
                   line2=r.text(found.get("line2", ""), f"{path}.line2"),
                   postal_code=r.text(found.get("postal_code", ""), f"{path}.postal_code"),
                   region=r.text(found.get("region", ""), f"{path}.region"),
                   name=r.text(found.get("name", ""), f"{path}.name"))


def _lines(r: PayloadReader, value: Any, path: str, *, required: bool) -> list[NewLine]:
    if value is None and not required:
        return []
    return [NewLine(sku=r.identifier(item.get("sku"), f"{path}[{i}].sku"),
                    quantity=r.quantity(item.get("quantity"), f"{path}[{i}].quantity"),
                    unit_price=r.amount(item.get("unit_price"), f"{path}[{i}].unit_price"),
                    line_id=(None if item.get("line_id") is None
                             else r.identifier(item.get("line_id"), f"{path}[{i}].line_id")))
            for i, raw in enumerate(r.items(value, path))
            for item in [r.object(raw, f"{path}[{i}]", _ITEM_FIELDS)]]


def _delivery(r: PayloadReader, found: Mapping[str, Any]) -> DeliveryMethod | None:
    pickup = found.get("pickup_at")
    if pickup is None:
        return None
    if found.get("shipping_address") is not None:
        r.fail("pickup_at", "give pickup_at or shipping_address, not both")
    return DeliveryMethod(kind=DeliveryKind.PICKUP,
                          pickup_location=r.location(pickup, "pickup_at"))


@attrs.define
class CallCenterConnector:
    """Turns an agent's order into ``PlaceOrder`` and an agent's edit into ``EditOrder``;
    every failure is one ``PayloadError`` listing each problem as ``path: message``."""

    code: str = attrs.field(default=CHANNEL_CODE, init=False)

    def parse(self, payload: Mapping[str, Any]) -> PlaceOrder:
        """The ``PlaceOrder`` for an order an agent entered."""
        r = PayloadReader()
        found = r.object(payload, "payload", _ORDER_FIELDS)
        if r.problems:
            raise PayloadError(r.problems, channel=self.code)
        ref = r.identifier(found.get("ref"), "ref")
        agent = r.identifier(found.get("agent"), "agent")
        placed_at = r.moment(found.get("placed_at"), "placed_at")
        currency = found.get("currency")
        try:
            check_currency(currency)
        except InvalidCommand:
            r.fail("currency", f"must be an ISO 4217 code like 'EUR', not {currency!r}")
        raw_customer = r.object(found.get("customer"), "customer", _CUSTOMER_FIELDS)
        customer = Customer(
            id=r.identifier(raw_customer.get("id"), "customer.id"),
            segment=(None if raw_customer.get("segment") is None
                     else r.code(raw_customer.get("segment"), "customer.segment")),
            contact=Contact(name=r.text(raw_customer.get("name", ""), "customer.name"),
                            email=r.text(raw_customer.get("email", ""), "customer.email"),
                            phone=r.text(raw_customer.get("phone", ""), "customer.phone")))
        lines = _lines(r, found.get("items"), "items", required=True)
        delivery = _delivery(r, found) or DeliveryMethod(kind=DeliveryKind.SHIP)
        address = _address(r, found.get("shipping_address"), "shipping_address")
        if delivery.kind is DeliveryKind.SHIP and address is None:
            r.fail("shipping_address", "required unless the customer collects (pickup_at)")
        note = found.get("note")
        if note is not None:
            r.text(note, "note")
        if r.problems:
            raise PayloadError(r.problems, channel=self.code)
        metadata: dict[str, Any] = {"placed_by": agent_actor(agent), "agent": agent}
        if note:
            metadata["note"] = note
        try:
            return PlaceOrder(channel=self.code, external_id=ref, currency=str(currency),
                              customer=customer, lines=lines, delivery=delivery,
                              shipping_address=address, tags=(agent_actor(agent),),
                              metadata=metadata, placed_at=placed_at)
        except InvalidCommand as exc:
            raise PayloadError(exc.problems, channel=self.code) from exc

    def parse_edit(self, payload: Mapping[str, Any]) -> EditOrder:
        """The ``EditOrder`` for an edit an agent entered, with the agent as its actor."""
        r = PayloadReader()
        found = r.object(payload, "payload", _EDIT_FIELDS)
        if r.problems:
            raise PayloadError(r.problems, channel=self.code)
        edit_ref = r.identifier(found.get("edit_ref"), "edit_ref")
        agent = r.identifier(found.get("agent"), "agent")
        order = r.object(found.get("order"), "order", _ORDER_REF_FIELDS)
        order_channel = r.code(order.get("channel"), "order.channel")
        order_id = r.identifier(order.get("id"), "order.id")
        version = found.get("order_version")
        if version is not None and (isinstance(version, bool) or not isinstance(version, int)
                                    or version < 0):
            r.fail("order_version", f"must be a whole number from 0, not {version!r}")
        quantities: dict[str, int] = {}
        changes = found.get("items")
        for i, raw in enumerate([] if changes is None else r.items(changes, "items")):
            change = r.object(raw, f"items[{i}]", _CHANGE_FIELDS)
            units = change.get("quantity")
            if isinstance(units, bool) or not isinstance(units, int) or units < 0:
                r.fail(f"items[{i}].quantity", f"must be a whole number from 0, not {units!r}")
                continue
            quantities[r.identifier(change.get("line_id"), f"items[{i}].line_id")] = units
        added = _lines(r, found.get("add_items"), "add_items", required=False)
        address = _address(r, found.get("shipping_address"), "shipping_address")
        delivery = _delivery(r, found)
        if not (quantities or added or address or delivery):
            r.fail("items", "an edit changes something: items, add_items, shipping_address "
                            "or pickup_at")
        if r.problems:
            raise PayloadError(r.problems, channel=self.code)
        try:
            return EditOrder(channel=self.code, actor=agent_actor(agent),
                             idempotency_key=edit_ref, order_channel=order_channel,
                             order_external_id=order_id, expected_version=version,
                             quantities=quantities, add_lines=added,
                             shipping_address=address, delivery=delivery)
        except InvalidCommand as exc:
            raise PayloadError(exc.problems, channel=self.code) from exc


__all__ = ["CHANNEL_CODE", "CallCenterConnector", "agent_actor"]
