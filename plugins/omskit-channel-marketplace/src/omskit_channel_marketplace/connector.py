"""The ``marketplace`` channel connector: Shopify-shaped order webhooks in, ``PlaceOrder``
out, and order statuses pushed back to the shop.

Each configured shop is a sub-channel, ``marketplace:<shop>``: its orders are idempotent per
shop and marketplace order id. A webhook is verified before anything is read: the
``X-Shopify-Hmac-Sha256`` header must be the base64 HMAC-SHA256 of the raw body under the
shop's secret. Its ``X-Shopify-Webhook-Id`` is the delivery id omskit de-duplicates on.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
from omskit import (
    Address,
    ChannelStatusUpdate,
    Contact,
    Coordinates,
    Customer,
    InvalidCommand,
    InvalidWebhook,
    NewLine,
    OrderPayment,
    PayloadError,
    PayloadReader,
    PlaceOrder,
    Tender,
    check_currency,
)

from omskit_channel_marketplace.settings import SETTINGS_KEY, Shop

#: The connector's code; each shop's orders are on ``marketplace:<shop>``.
CHANNEL_CODE = SETTINGS_KEY
#: The webhook topic of a new order.
ORDER_TOPIC = "orders/create"

HMAC_HEADER = "x-shopify-hmac-sha256"
DELIVERY_HEADER = "x-shopify-webhook-id"
SHOP_HEADER = "x-shopify-shop-domain"
TOPIC_HEADER = "x-shopify-topic"


@attrs.frozen(kw_only=True)
class Webhook:
    """A verified webhook: the shop, the delivery id, the topic and the parsed body."""

    shop: Shop
    delivery_id: str
    topic: str
    body: Mapping[str, Any]

    @property
    def payload(self) -> dict[str, Any]:
        """What ``oms.channels.receive("marketplace", ...)`` takes for an order."""
        return {"shop": self.shop.code, "order": dict(self.body)}


def sign(secret: str, body: bytes) -> str:
    """The signature a marketplace puts in ``X-Shopify-Hmac-Sha256`` for ``body``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


#: Sends one status update to the marketplace (an HTTP call in production): raise on failure.
Sender = Callable[[Shop, Mapping[str, Any]], None]


def status_message(update: ChannelStatusUpdate) -> dict[str, Any]:
    """The message a shop is sent for a status update (its ``id`` is stable: the shop
    ignores one it has seen)."""
    message: dict[str, Any] = {"id": update.id, "order_id": update.external_id,
                               "status": update.status.value}
    message.update(update.details)
    return message


def _shops(shops: Iterable[Shop]) -> tuple[Shop, ...]:
    return tuple(shops)


@attrs.define
class MarketplaceConnector:
    """Turns shop order webhooks into ``PlaceOrder`` commands and pushes statuses back
    through ``sender`` (the plugin's default records nothing and sends nothing: give a
    sender, or read the updates with ``oms.channels.status_updates``)."""

    shops: Sequence[Shop] = attrs.field(converter=_shops)
    sender: Sender | None = None
    code: str = attrs.field(default=CHANNEL_CODE, init=False)

    def shop(self, code: str) -> Shop | None:
        """The shop with this code, or ``None``."""
        return next((s for s in self.shops if s.code == code), None)

    def verify(self, headers: Mapping[str, str], body: bytes) -> Webhook:
        """The webhook, once its signature verifies over the raw ``body``; otherwise
        ``InvalidWebhook`` (unknown shop, missing or wrong signature, a body that is not a
        JSON object), and nothing is read further."""
        lower = {str(k).lower(): v for k, v in headers.items()}
        domain = lower.get(SHOP_HEADER)
        shop = next((s for s in self.shops if s.domain == domain), None)
        if shop is None:
            raise InvalidWebhook([f"{SHOP_HEADER}: {domain!r} is not a configured shop"],
                                 provider=self.code)
        given = lower.get(HMAC_HEADER)
        if not isinstance(body, bytes) or not isinstance(given, str) or \
                not hmac.compare_digest(given.encode(), sign(shop.secret, body).encode()):
            raise InvalidWebhook([f"{HMAC_HEADER}: the signature does not match the body"],
                                 provider=shop.channel)
        problems: list[str] = []
        delivery_id = lower.get(DELIVERY_HEADER)
        if not isinstance(delivery_id, str) or not delivery_id.strip():
            problems.append(f"{DELIVERY_HEADER}: required")
        try:
            parsed = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            parsed = None
        if not isinstance(parsed, dict):
            problems.append("body: must be a JSON object")
        if problems:
            raise InvalidWebhook(problems, provider=shop.channel)
        assert isinstance(parsed, dict)
        assert isinstance(delivery_id, str)
        return Webhook(shop=shop, delivery_id=delivery_id,
                       topic=str(lower.get(TOPIC_HEADER, ORDER_TOPIC)), body=parsed)

    def parse(self, payload: Mapping[str, Any]) -> PlaceOrder:
        """The ``PlaceOrder`` for ``{"shop": code, "order": {...}}`` (a verified webhook's
        ``payload``), or ``PayloadError`` listing every problem."""
        r = PayloadReader()
        found = r.object(payload, "payload", {"shop", "order"})
        if r.problems:
            raise PayloadError(r.problems, channel=self.code)
        shop = self.shop(found.get("shop"))  # type: ignore[arg-type]
        if shop is None:
            r.fail("shop", f"{found.get('shop')!r} is not a configured shop "
                           "(settings marketplace.shops)")
        order = r.object(found.get("order"), "order")
        raw_id = order.get("id")
        if isinstance(raw_id, bool) or not isinstance(raw_id, int | str):
            r.fail("order.id", f"must be the marketplace's order id, not {raw_id!r}")
        order_id = r.identifier(str(raw_id), "order.id")
        placed_at = r.moment(order.get("created_at"), "order.created_at")
        currency = order.get("currency")
        try:
            check_currency(currency)
        except InvalidCommand:
            r.fail("order.currency", f"must be an ISO 4217 code, not {currency!r}")
        lines = [NewLine(sku=r.identifier(item.get("sku"), f"order.line_items[{i}].sku"),
                         quantity=r.quantity(item.get("quantity"),
                                             f"order.line_items[{i}].quantity"),
                         unit_price=r.amount(item.get("price"),
                                             f"order.line_items[{i}].price"),
                         line_id=str(i + 1))
                 for i, raw in enumerate(r.items(order.get("line_items"), "order.line_items"))
                 for item in [r.object(raw, f"order.line_items[{i}]")]]
        customer = self._customer(r, order)
        address = self._address(r, order.get("shipping_address"))
        payment = None
        if order.get("financial_status") == "paid":
            # The marketplace took the money: captured funds, one tender.
            total = r.amount(order.get("total_price"), "order.total_price")
            payment = OrderPayment(tenders=[Tender(amount=total, captured=True,
                                                   reference=f"{CHANNEL_CODE}:{order_id}")])
        if r.problems:
            raise PayloadError(r.problems, channel=self.code)
        assert shop is not None
        metadata: dict[str, Any] = {"shop": shop.code, "order_name": str(order.get("name", ""))}
        try:
            return PlaceOrder(channel=shop.channel, external_id=order_id,
                              currency=str(currency), customer=customer, lines=lines,
                              shipping_address=address, metadata=metadata,
                              placed_at=placed_at, payment=payment)
        except InvalidCommand as exc:
            raise PayloadError(exc.problems, channel=self.code) from exc

    @staticmethod
    def _customer(r: PayloadReader, order: Mapping[str, Any]) -> Customer:
        raw = order.get("customer")
        found = r.object(raw, "order.customer") if raw is not None else {}
        ident = found.get("id")
        name = " ".join(str(found.get(k) or "") for k in ("first_name", "last_name")).strip()
        return Customer(id=(r.identifier(str(ident), "order.customer.id") if ident is not None
                            else f"{CHANNEL_CODE}-guest"),
                        contact=Contact(name=r.text(name, "order.customer.name"),
                                        email=r.text(order.get("email") or "", "order.email")))

    @staticmethod
    def _address(r: PayloadReader, raw: Any) -> Address | None:
        if raw is None:
            r.fail("order.shipping_address", "required: marketplace orders are shipped")
            return None
        a = r.object(raw, "order.shipping_address")
        country = a.get("country_code")
        if not (isinstance(country, str) and len(country) == 2 and country.isupper()):
            r.fail("order.shipping_address.country_code",
                   f"must be a code like 'IT', not {country!r}")
        lat, lon = a.get("latitude"), a.get("longitude")
        point = (Coordinates(lat=float(lat), lon=float(lon))
                 if isinstance(lat, int | float) and isinstance(lon, int | float)
                 and not isinstance(lat, bool) and -90 <= lat <= 90 and -180 <= lon <= 180
                 else None)
        name = " ".join(str(a.get(k) or "") for k in ("first_name", "last_name")).strip()
        return Address(line1=r.text(a.get("address1"), "order.shipping_address.address1",
                                    required=True),
                       line2=r.text(a.get("address2") or "", "order.shipping_address.address2"),
                       city=r.text(a.get("city"), "order.shipping_address.city",
                                   required=True),
                       postal_code=r.text(a.get("zip") or "", "order.shipping_address.zip"),
                       region=r.text(a.get("province_code") or "",
                                     "order.shipping_address.province_code"),
                       country=str(country), name=r.text(name, "order.shipping_address.name"),
                       coordinates=point)

    def push_status(self, update: ChannelStatusUpdate) -> None:
        """Tell the shop (accepted, shipped with tracking, cancelled) through ``sender``;
        an unknown shop or a failing sender raises, and omskit retries later."""
        code = update.channel.partition(":")[2]
        shop = self.shop(code)
        if shop is None:
            raise LookupError(f"shop {code!r} is not configured any more")
        if self.sender is None:
            raise RuntimeError("no sender configured: the update stays queued")
        self.sender(shop, status_message(update))


__all__ = ["CHANNEL_CODE", "DELIVERY_HEADER", "HMAC_HEADER", "ORDER_TOPIC", "SHOP_HEADER",
           "TOPIC_HEADER", "MarketplaceConnector", "Sender", "Webhook", "sign",
           "status_message"]
