"""A new order line, as placement and order edits take it."""

from __future__ import annotations

from decimal import Decimal

import attrs

from omskit.domain.values import to_decimal


def _as_price(value: object) -> Decimal:
    return to_decimal(value, field="unit_price")


@attrs.frozen(kw_only=True)
class NewLine:
    """One line of an order being placed (or added to it by an edit)."""

    sku: str
    quantity: int
    unit_price: Decimal = attrs.field(converter=_as_price)
    line_id: str | None = None


__all__ = ["NewLine"]
