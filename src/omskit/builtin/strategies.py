"""The builtin routing strategy: nearest location that fills the order, else split nearest-first.

This is the simple default of the core; richer engines replace it by contributing another
strategy and answering ``omskit_choose_routing_strategy``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from omskit.domain.events import RoutedQuantity
from omskit.domain.routing import Candidate, RoutingPlan, RoutingRequest
from omskit.domain.values import DeliveryKind, LineQuantity
from omskit.hookspecs import hookimpl
from omskit.ports import RoutingStrategy
from omskit.routing.candidates import PricedCandidates
from omskit.routing.optimiser import FewestShipmentsStrategy, OptimalStrategy


def _rank(candidate: Candidate) -> tuple[bool, float, object, str]:
    # Unknown distances sort last; ties go to the cheaper location, then the code, so the
    # plan is deterministic.
    distance = candidate.distance_km
    return (distance is None, distance or 0.0, candidate.location.handling_cost,
            candidate.location.code)


class NearestLocationStrategy:
    """One location that can fill the whole order, the nearest; otherwise split.

    Splitting walks the locations nearest-first and lets each take what it can of what is
    left, up to the policy's ``max_shipments`` locations; whatever is left is backordered.
    For pickup, only the pickup location is used and the rest is backordered there.
    """

    code = "nearest"

    def plan(self, request: RoutingRequest, candidates: Sequence[Candidate]) -> RoutingPlan:
        """Route ``request`` over ``candidates`` (see the class docstring)."""
        # Nearness and stock need no prices: the engine's candidates unpriced, so none of
        # their priced forms is built.
        plain = candidates.unpriced if isinstance(candidates, PricedCandidates) else candidates
        usable = sorted(
            (c for c in plain if c.location.code not in request.exclude_locations),
            key=_rank,
        )
        if request.delivery.kind is DeliveryKind.PICKUP:
            usable = [c for c in usable if c.location.code == request.delivery.pickup_location]
        for candidate in usable:
            if candidate.can_fill(request.demand):
                return RoutingPlan(
                    strategy=self.code,
                    allocations=tuple(
                        RoutedQuantity(location=candidate.location.code, line_id=d.line_id,
                                       sku=d.sku, quantity=d.quantity)
                        for d in request.demand
                    ),
                    backordered=(),
                )
        left = {c.location.code: dict(c.available) for c in usable}
        allocations: list[RoutedQuantity] = []
        backordered: list[LineQuantity] = []
        limit = request.policy.max_shipments
        used: set[str] = set()
        for d in request.demand:
            wanted = d.quantity
            for candidate in usable:
                code = candidate.location.code
                if limit is not None and code not in used and len(used) >= limit:
                    continue  # no further location may join the plan
                stock = left[code]
                take = min(wanted, stock.get(d.sku, 0))
                if take > 0:
                    used.add(code)
                    stock[d.sku] -= take
                    wanted -= take
                    allocations.append(RoutedQuantity(location=candidate.location.code,
                                                      line_id=d.line_id, sku=d.sku,
                                                      quantity=take))
                if wanted == 0:
                    break
            if wanted:
                backordered.append(LineQuantity(line_id=d.line_id, sku=d.sku, quantity=wanted))
        return RoutingPlan(strategy=self.code, allocations=tuple(allocations),
                           backordered=tuple(backordered))


class RoutingPlugin:
    """Contributes the builtin strategies: ``nearest``, ``optimal``, ``fewest-shipments``."""

    @hookimpl
    def omskit_register_routing_strategies(
        self, register: Callable[[RoutingStrategy], None]
    ) -> None:
        """Register the three builtin strategies."""
        register(NearestLocationStrategy())
        register(OptimalStrategy())
        register(FewestShipmentsStrategy())
