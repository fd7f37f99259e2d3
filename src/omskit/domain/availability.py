"""Network availability summaries: one SKU across every location, read a page at a time."""

from __future__ import annotations

import attrs


@attrs.frozen(kw_only=True)
class StockSummary:
    """One SKU summed over the network (or over the locations a caller chose).

    ``on_hand``, ``reserved``, ``safety_stock`` and ``in_transit`` count every location, as
    :class:`~omskit.domain.inventory.GlobalStock` does; ``available`` is available to promise
    now at active locations only, as ``oms.inventory.available(sku)`` (each location's
    on hand − reserved − safety stock, never below 0, less a channel's buffer if one was
    given). ``in_transit`` is the open supply (purchase orders and transfers not yet
    received), whatever its ETA.
    """

    sku: str
    on_hand: int
    reserved: int
    safety_stock: int
    available: int
    in_transit: int


__all__ = ["StockSummary"]
