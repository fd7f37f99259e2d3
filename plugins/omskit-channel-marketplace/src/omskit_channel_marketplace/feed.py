"""The stock feed of a shop: what the marketplace may sell, per SKU.

Available to promise (on hand − reserved − safety stock) at the shop's chosen locations,
less the shop's buffer, never below zero; SKUs the shop must not sell are left out. Each shop
has its own rules, so two shops of one deployment see different quantities.
"""

from __future__ import annotations

from collections.abc import Iterable

from omskit import Oms

from omskit_channel_marketplace.settings import Shop


def stock_feed(oms: Oms, shop: Shop, skus: Iterable[str]) -> dict[str, int]:
    """``{sku: quantity}`` to publish on ``shop`` for ``skus`` (sorted by SKU)."""
    feed: dict[str, int] = {}
    for sku in sorted(set(skus)):
        if sku in shop.excluded_skus:
            continue
        positions = oms.inventory.stock(sku).positions
        available = sum(p.available for p in positions
                        if not shop.locations or p.location in shop.locations)
        feed[sku] = max(0, available - shop.buffer)
    return feed


__all__ = ["stock_feed"]
