"""Routing vocabulary: what is asked (a request), what could serve it (candidates), the answer.

Strategies are plugins: anything with a ``code`` and a ``plan`` method matching
:class:`RoutingStrategy`, contributed through ``omskit_register_routing_strategies``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import attrs

from omskit.domain.events import RoutedQuantity
from omskit.domain.inventory import Location
from omskit.domain.values import Coordinates, DeliveryMethod, LineQuantity


@attrs.frozen(kw_only=True)
class RoutingRequest:
    """Demand to place: the lines still to source for one order, and where they go."""

    order_id: str
    channel: str
    segment: str
    demand: tuple[LineQuantity, ...]
    delivery: DeliveryMethod
    destination: Coordinates | None
    exclude_locations: frozenset[str] = frozenset()


@attrs.frozen(kw_only=True)
class Candidate:
    """A location that may serve the request, with its available-to-promise per SKU."""

    location: Location
    available: Mapping[str, int]
    distance_km: float | None

    def can_fill(self, demand: Sequence[LineQuantity]) -> bool:
        """Whether this location alone has every unit of ``demand``."""
        need: dict[str, int] = {}
        for d in demand:
            need[d.sku] = need.get(d.sku, 0) + d.quantity
        return all(self.available.get(sku, 0) >= q for sku, q in need.items())


@attrs.frozen(kw_only=True)
class RoutingPlan:
    """A routing answer: quantities per location and line, and what stays backordered."""

    strategy: str
    allocations: tuple[RoutedQuantity, ...]
    backordered: tuple[LineQuantity, ...]


class RoutingStrategy(Protocol):
    """Chooses locations for a request. ``plan`` must be pure: it reads only its arguments.

    The order service reserves the plan's quantities with conditional updates; if another
    order took the stock in between, the unreserved remainder is planned again with fresh
    candidates.
    """

    code: str

    def plan(self, request: RoutingRequest, candidates: Sequence[Candidate]) -> RoutingPlan:
        """Return allocations that never exceed a candidate's ``available`` per SKU."""
        ...
