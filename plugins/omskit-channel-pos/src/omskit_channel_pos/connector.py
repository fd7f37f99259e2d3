"""The ``pos`` channel connector: a till's sale in, a ``PlaceOrder`` out.

A sale is one of three kinds (``mode``):

- ``carry_out``: the customer leaves with the goods. The order is a pickup at the till's store
  (so routing takes only that store's stock); :func:`omskit_channel_pos.sales.record_sale`
  then carries it through to completed at once, consuming the store's stock.
- ``ship``: the endless aisle. The store sells what it does not have on the shelf, routed
  like any order and shipped to the customer's address from wherever routing chooses.
- ``collect``: reserved for later collection at the store (a pickup there).

The order is placed on channel ``pos`` with external id ``<till>:<receipt>``: each sale is
created once however often the till sends it (after an offline spell it replays its queue).
What was paid at the till becomes captured funds in the payment ledger, one tender each.
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
    InvalidCommand,
    NewLine,
    OrderPayment,
    PayloadError,
    PayloadReader,
    PlaceOrder,
    Tender,
    check_currency,
)

#: The connector's code, and the order channel of every till sale.
CHANNEL_CODE = "pos"
#: What a sale may be.
MODES = ("carry_out", "ship", "collect")
#: The customer of a sale that names none.
WALK_IN = "walk-in"

_SALE_FIELDS = {"till", "receipt", "sold_at", "currency", "mode", "customer", "items",
                "shipping_address", "payments", "cashier"}
_ITEM_FIELDS = {"sku", "quantity", "unit_price"}
_PAYMENT_FIELDS = {"method", "amount", "reference"}
_CUSTOMER_FIELDS = {"id", "name", "email", "phone"}
_ADDRESS_FIELDS = {"name", "line1", "line2", "city", "postal_code", "region", "country"}


def external_id(till: str, receipt: str) -> str:
    """The order's external id for a till's receipt: a sale is created once per pair."""
    return f"{till}:{receipt}"


def _copied(tills: Mapping[str, str]) -> dict[str, str]:
    return dict(tills)


@attrs.define
class PosConnector:
    """Turns till sales into ``PlaceOrder`` commands. ``tills`` maps each till to the store
    (an omskit location code) it stands in; a sale from any other till is refused."""

    tills: Mapping[str, str] = attrs.field(converter=_copied)
    code: str = attrs.field(default=CHANNEL_CODE, init=False)

    def store_of(self, till: str) -> str:
        """The store ``till`` stands in; ``PayloadError`` for a till nobody configured."""
        store = self.tills.get(till) if isinstance(till, str) else None
        if store is None:
            raise PayloadError([f"till: {till!r} is not a till of this deployment "
                                "(settings pos.tills)"], channel=self.code)
        return store

    def parse(self, payload: Mapping[str, Any]) -> PlaceOrder:
        """The ``PlaceOrder`` for a sale, or ``PayloadError`` listing every problem."""
        r = PayloadReader()
        sale = r.object(payload, "payload", _SALE_FIELDS)
        if r.problems:
            raise PayloadError(r.problems, channel=self.code)
        till = r.identifier(sale.get("till"), "till")
        store = self.tills.get(till)
        if till and store is None:
            r.fail("till", f"{till!r} is not a till of this deployment (settings pos.tills)")
        receipt = r.identifier(sale.get("receipt"), "receipt")
        sold_at = r.moment(sale.get("sold_at"), "sold_at")
        currency = sale.get("currency")
        try:
            check_currency(currency)
        except InvalidCommand:
            r.fail("currency", f"must be an ISO 4217 code like 'EUR', not {currency!r}")
        mode = sale.get("mode")
        if mode not in MODES:
            r.fail("mode", f"must be one of {', '.join(MODES)}, not {mode!r}")
        lines = [NewLine(sku=r.identifier(item.get("sku"), f"items[{i}].sku"),
                         quantity=r.quantity(item.get("quantity"), f"items[{i}].quantity"),
                         unit_price=r.amount(item.get("unit_price"), f"items[{i}].unit_price"),
                         line_id=str(i + 1))
                 for i, raw in enumerate(r.items(sale.get("items"), "items"))
                 for item in [r.object(raw, f"items[{i}]", _ITEM_FIELDS)]]
        tenders = [Tender(amount=r.amount(pay.get("amount"), f"payments[{i}].amount"),
                          captured=True,
                          reference=(f"{external_id(till, receipt)}:"
                                     f"{r.code(pay.get('method'), f'payments[{i}].method')}:"
                                     f"{pay.get('reference', i + 1)}"))
                   for i, raw in enumerate(sale.get("payments") or [])
                   for pay in [r.object(raw, f"payments[{i}]", _PAYMENT_FIELDS)]]
        if not isinstance(sale.get("payments", []), list):
            r.fail("payments", "must be an array")
        customer = self._customer(r, sale.get("customer"))
        address = None
        if mode == "ship":
            address = self._address(r, sale.get("shipping_address"))
        elif sale.get("shipping_address") is not None:
            r.fail("shipping_address", f"only a 'ship' sale has one, not a {mode!r} sale")
        cashier = sale.get("cashier")
        if cashier is not None:
            r.identifier(cashier, "cashier")
        if r.problems:
            raise PayloadError(r.problems, channel=self.code)
        assert store is not None
        assert sold_at is not None
        delivery = (DeliveryMethod(kind=DeliveryKind.SHIP) if mode == "ship"
                    else DeliveryMethod(kind=DeliveryKind.PICKUP, pickup_location=store))
        metadata: dict[str, Any] = {"till": till, "receipt": receipt, "store": store,
                                    "mode": mode}
        if cashier is not None:
            metadata["cashier"] = cashier
        try:
            return PlaceOrder(
                channel=self.code, external_id=external_id(till, receipt),
                currency=str(currency), customer=customer, lines=lines, delivery=delivery,
                shipping_address=address, tags=(f"pos-{str(mode).replace('_', '-')}",),
                metadata=metadata, placed_at=sold_at,
                payment=OrderPayment(tenders=tenders) if tenders else None)
        except InvalidCommand as exc:
            raise PayloadError(exc.problems, channel=self.code) from exc

    @staticmethod
    def _customer(r: PayloadReader, value: Any) -> Customer:
        if value is None:
            return Customer(id=WALK_IN)
        found = r.object(value, "customer", _CUSTOMER_FIELDS)
        return Customer(
            id=r.identifier(found.get("id"), "customer.id") or WALK_IN,
            contact=Contact(name=r.text(found.get("name", ""), "customer.name"),
                            email=r.text(found.get("email", ""), "customer.email"),
                            phone=r.text(found.get("phone", ""), "customer.phone")))

    @staticmethod
    def _address(r: PayloadReader, value: Any) -> Address | None:
        if value is None:
            r.fail("shipping_address", "required for a 'ship' sale")
            return None
        found = r.object(value, "shipping_address", _ADDRESS_FIELDS)
        country = found.get("country")
        if not (isinstance(country, str) and len(country) == 2 and country.isupper()):
            r.fail("shipping_address.country", f"must be a code like 'IT', not {country!r}")
        return Address(line1=r.text(found.get("line1"), "shipping_address.line1",
                                    required=True),
                       city=r.text(found.get("city"), "shipping_address.city", required=True),
                       country=str(country),
                       line2=r.text(found.get("line2", ""), "shipping_address.line2"),
                       postal_code=r.text(found.get("postal_code", ""),
                                          "shipping_address.postal_code"),
                       region=r.text(found.get("region", ""), "shipping_address.region"),
                       name=r.text(found.get("name", ""), "shipping_address.name"))


__all__ = ["CHANNEL_CODE", "MODES", "WALK_IN", "PosConnector", "external_id"]
