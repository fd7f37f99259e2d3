"""Dropship commands: purchase orders and supplier messages (``oms.dropship``)."""

from __future__ import annotations

import attrs

from omskit.domain.checks import (
    MAX_LINE_QUANTITY,
    check_identifier,
    check_location_code,
    check_moment,
    check_text,
)
from omskit.domain.commands.base import Command, checked, identifier, location_code
from omskit.domain.dropship import (
    ShipNotice,
    StockFeed,
    SupplierResponse,
    SupplierResponseKind,
)

#: Most lines in one ship notice, and SKUs in one stock feed.
MAX_NOTICE_LINES = 1_000
MAX_FEED_LEVELS = 100_000


def _whole(value: object, field: str, problems: list[str], low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not \
            low <= value <= MAX_LINE_QUANTITY:
        problems.append(f"{field}: must be a whole number from {low} to "
                        f"{MAX_LINE_QUANTITY}, not {value!r}")


@attrs.frozen(kw_only=True)
class CreatePurchaseOrder(Command):
    """Create the purchase order of a fulfilment order released at a supplier location
    (once: asking again returns it) and send it if it was not."""

    name = "create_purchase_order"
    subject = "purchase order"

    fulfillment_order_id: str = identifier()


@attrs.frozen(kw_only=True)
class SendPurchaseOrder(Command):
    """Send a purchase order through its supplier's connector. Idempotent: it is sent once
    (under a key stored before the connector is called); asking again returns it."""

    name = "send_purchase_order"
    subject = "purchase order"

    purchase_order_id: str = identifier()


@attrs.frozen(kw_only=True)
class ReceiveSupplierResponse(Command):
    """A supplier's acknowledgement or refusal of a purchase order; once per
    ``response.message_id``."""

    name = "receive_supplier_response"
    subject = "supplier response"

    supplier: str = location_code()
    response: SupplierResponse

    def check(self, problems: list[str]) -> None:
        r: object = self.response
        if not isinstance(r, SupplierResponse):
            problems.append("response: must be a SupplierResponse")
            return
        check_identifier(r.message_id, "response.message_id", problems)
        check_identifier(r.purchase_order_id, "response.purchase_order_id", problems)
        kind: object = r.kind
        if not isinstance(kind, SupplierResponseKind):
            problems.append("response.kind: acknowledged or refused")
        check_text(r.reason, "response.reason", problems)
        if r.occurred_at is not None:
            check_moment(r.occurred_at, "response.occurred_at", problems)


@attrs.frozen(kw_only=True)
class ReceiveShipNotice(Command):
    """A supplier's ship notice: units of a purchase order that left with a carrier;
    once per ``notice.message_id``."""

    name = "receive_ship_notice"
    subject = "ship notice"

    supplier: str = location_code()
    notice: ShipNotice

    def check(self, problems: list[str]) -> None:
        n: object = self.notice
        if not isinstance(n, ShipNotice):
            problems.append("notice: must be a ShipNotice")
            return
        check_identifier(n.message_id, "notice.message_id", problems)
        check_identifier(n.purchase_order_id, "notice.purchase_order_id", problems)
        check_identifier(n.carrier, "notice.carrier", problems)
        if not isinstance(n.tracking_number, str) or not n.tracking_number.strip():
            problems.append("notice.tracking_number: must not be blank")
        else:
            check_text(n.tracking_number, "notice.tracking_number", problems)
        if n.shipped_at is not None:
            check_moment(n.shipped_at, "notice.shipped_at", problems)
        lines: object = n.lines
        if not isinstance(lines, tuple) or not lines:
            problems.append("notice.lines: a ship notice ships at least one line")
            return
        if len(lines) > MAX_NOTICE_LINES:
            problems.append(f"notice.lines: more than {MAX_NOTICE_LINES}")
            return
        for i, x in enumerate(lines):
            check_identifier(x.sku, f"notice.lines[{i}].sku", problems)
            _whole(x.quantity, f"notice.lines[{i}].quantity", problems, 1)
            if x.line_id is not None:
                check_identifier(x.line_id, f"notice.lines[{i}].line_id", problems)


@attrs.frozen(kw_only=True)
class ReceiveStockFeed(Command):
    """A supplier's stock feed: the free units per SKU it can sell; once per
    ``feed.message_id``."""

    name = "receive_stock_feed"
    subject = "stock feed"

    supplier: str = location_code()
    feed: StockFeed

    def check(self, problems: list[str]) -> None:
        f: object = self.feed
        if not isinstance(f, StockFeed):
            problems.append("feed: must be a StockFeed")
            return
        check_identifier(f.message_id, "feed.message_id", problems)
        if f.as_of is not None:
            check_moment(f.as_of, "feed.as_of", problems)
        levels: object = f.levels
        if not isinstance(levels, tuple):
            problems.append("feed.levels: must be a list of StockLevel")
            return
        if len(levels) > MAX_FEED_LEVELS:
            problems.append(f"feed.levels: more than {MAX_FEED_LEVELS}")
            return
        seen: set[str] = set()
        for i, x in enumerate(levels):
            check_identifier(x.sku, f"feed.levels[{i}].sku", problems)
            _whole(x.quantity, f"feed.levels[{i}].quantity", problems, 0)
            if x.sku in seen:
                problems.append(f"feed.levels[{i}].sku: {x.sku!r} is listed twice")
            seen.add(x.sku)


def _supplier_or_none(value: object, field: str, problems: list[str]) -> None:
    check_location_code(value, field, problems)


@attrs.frozen(kw_only=True)
class PollSuppliers(Command):
    """Send what is waiting to be sent and process what the suppliers sent back, for every
    supplier or one."""

    name = "poll_suppliers"
    subject = "supplier poll"

    supplier: str | None = checked(_supplier_or_none, optional=True, default=None)


__all__ = ["CreatePurchaseOrder", "PollSuppliers", "ReceiveShipNotice", "ReceiveStockFeed",
           "ReceiveSupplierResponse", "SendPurchaseOrder"]
