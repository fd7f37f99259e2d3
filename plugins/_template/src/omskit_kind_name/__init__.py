"""omskit-kind-name: hold orders worth more than :data:`REVIEW_ABOVE` for a person to check.

An omskit plugin is a module (or an object) with functions decorated ``@hookimpl`` whose names
and parameters match the specs in ``omskit.hookspecs``; this one implements a *validate* hook.
omskit checks the names at start-up, so a misspelt hook fails ``bootstrap`` instead of being
silently ignored. Replace this hook with yours.
"""

from __future__ import annotations

from decimal import Decimal

from omskit import InventoryReader, Order, Problem, hookimpl

#: Orders whose total (in the order's own currency) is above this are held for review.
REVIEW_ABOVE = Decimal("5000")
#: The hold's code: what an operator releases with ``oms.orders.release_hold(id, code)``.
HOLD_CODE = "high_value"


@hookimpl
def omskit_validate_order(order: Order, inventory: InventoryReader) -> list[Problem]:
    """Hold an order above :data:`REVIEW_ABOVE`; omskit turns each problem into a hold.

    Called once per new order, inside the placement's transaction; an exception here rolls
    the placement back (see ``omskit.hookspecs``), so only raise for real failures.
    """
    total = order.total
    if total.amount > REVIEW_ABOVE:
        return [Problem(code=HOLD_CODE,
                        message=f"total {total} is above {REVIEW_ABOVE} {total.currency}")]
    return []
