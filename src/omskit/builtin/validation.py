"""Builtin order validation: hold orders that no stock could ever serve as asked."""

from __future__ import annotations

from omskit.domain.inventory import Capability
from omskit.domain.order import Order
from omskit.domain.values import DeliveryKind, Problem
from omskit.hookspecs import hookimpl
from omskit.ports import InventoryReader

UNKNOWN_SKU = "unknown_sku"
INVALID_PICKUP_LOCATION = "invalid_pickup_location"


class ValidationPlugin:
    """Unknown SKUs and unusable pickup locations put the order on hold for an operator.

    An order held for ``unknown_sku`` is validated again when stock or supply for one of
    its SKUs is recorded (``OrderService.revalidate_unknown_skus``).
    """

    @hookimpl
    def omskit_validate_order(self, order: Order, inventory: InventoryReader) -> list[Problem]:
        """Problems: SKUs that no location stocks or expects (a SKU with open supply is
        known: a pre-order for incoming stock is valid); a pickup location that does not
        exist, is inactive, or does not offer pickup."""
        problems = []
        skus = {line.sku for line in order.lines}
        unknown = sorted(skus - inventory.known_skus(skus))
        if unknown:
            problems.append(Problem(code=UNKNOWN_SKU,
                                    message="no location stocks " + ", ".join(unknown)))
        if order.delivery.kind is DeliveryKind.PICKUP:
            code = order.delivery.pickup_location or ""
            location = inventory.location(code)
            if location is None or not location.can(Capability.PICKUP):
                problems.append(Problem(code=INVALID_PICKUP_LOCATION,
                                        message=f"{code!r} is not an active pickup location"))
        return problems
