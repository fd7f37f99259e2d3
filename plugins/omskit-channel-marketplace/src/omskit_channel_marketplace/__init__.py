"""omskit-channel-marketplace: marketplace shops (Shopify-shaped webhooks) as omskit
sales channels.

Contributes the ``marketplace`` channel connector (``omskit_register_channels``) with one
sub-channel per shop configured in ``settings["marketplace"]["shops"]``::

    order = omskit_channel_marketplace.receive_webhook(oms, request.headers, request.body)
    oms.channels.push()                                   # statuses back to the shops
    feed = omskit_channel_marketplace.stock_feed(oms, shop, skus)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from omskit import ChannelConnector, Oms, Order, hookimpl

from omskit_channel_marketplace.connector import (
    CHANNEL_CODE,
    DELIVERY_HEADER,
    HMAC_HEADER,
    ORDER_TOPIC,
    SHOP_HEADER,
    TOPIC_HEADER,
    MarketplaceConnector,
    Sender,
    Webhook,
    sign,
    status_message,
)
from omskit_channel_marketplace.feed import stock_feed
from omskit_channel_marketplace.settings import (
    SETTINGS_KEY,
    Shop,
    settings_problems,
    shops_from,
)

__all__ = ["CHANNEL_CODE", "DELIVERY_HEADER", "HMAC_HEADER", "ORDER_TOPIC", "SETTINGS_KEY",
           "SHOP_HEADER", "TOPIC_HEADER", "MarketplaceChannel", "MarketplaceConnector",
           "Sender", "Shop", "Webhook", "omskit_register_channels", "omskit_validate_settings",
           "receive_webhook", "sign", "status_message", "stock_feed"]


@hookimpl
def omskit_register_channels(register: Callable[[ChannelConnector], None],
                             settings: Mapping[str, Any]) -> None:
    """Contribute the ``marketplace`` connector with the shops of the settings (statuses
    stay queued until a host registers a sender: ``MarketplaceChannel``)."""
    register(MarketplaceConnector(shops_from(settings)))


@hookimpl
def omskit_validate_settings(settings: Mapping[str, Any]) -> list[str]:
    """Problems with ``settings["marketplace"]``."""
    return settings_problems(settings)


class MarketplaceChannel:
    """The plugin as an object, with its shops and the ``sender`` that pushes statuses to
    them (an HTTP client in production): ``plugins=[MarketplaceChannel(shops, sender)]``."""

    def __init__(self, shops: Iterable[Shop], sender: Sender | None = None) -> None:
        self.shops = tuple(shops)
        self.sender = sender

    def __repr__(self) -> str:
        return f"MarketplaceChannel(shops={[s.code for s in self.shops]!r})"

    @hookimpl
    def omskit_register_channels(self, register: Callable[[ChannelConnector], None]) -> None:
        """Contribute the ``marketplace`` connector with these shops and sender."""
        register(MarketplaceConnector(self.shops, self.sender))


def receive_webhook(oms: Oms, headers: Mapping[str, str], body: bytes) -> Order | None:
    """Verify an order webhook over its raw ``body`` and place its order once, by delivery
    id and by marketplace order id. ``InvalidWebhook`` (bad signature, unknown shop,
    malformed body) or ``PayloadError`` (an order omskit cannot take), nothing written.
    Topics other than ``orders/create`` are acknowledged and ignored (``None``)."""
    connector = oms.channel(CHANNEL_CODE)
    assert isinstance(connector, MarketplaceConnector)
    webhook = connector.verify(headers, body)
    if webhook.topic != ORDER_TOPIC:
        return None
    # Delivery ids are the connector's to scope: per shop, so two shops never collide.
    return oms.channels.receive(CHANNEL_CODE, webhook.payload,
                                delivery_id=f"{webhook.shop.code}:{webhook.delivery_id}")
