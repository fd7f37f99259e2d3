"""The figures ``omskit simulate`` compares strategies by (defined in ``docs/simulate.md``)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import attrs

from omskit.simulate.runner import StrategyRun


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100) of ``values``, interpolated linearly; 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@attrs.frozen(kw_only=True)
class Kpis:
    """One strategy's results over the whole order stream."""

    strategy: str
    orders: int
    units: int
    total_cost: float
    cost_by_term: dict[str, float]
    shipments: int
    split_orders: int
    distance_km: float
    units_backordered: int
    backordered_orders: int
    on_time_orders: int
    held_orders: int
    decision_ms_p50: float
    decision_ms_p95: float
    place_ms_mean: float
    seconds: float
    shipments_by_location: dict[str, int]
    units_by_location: dict[str, int]

    @property
    def cost_per_order(self) -> float:
        """Total cost / orders."""
        return self.total_cost / self.orders if self.orders else 0.0

    @property
    def split_rate(self) -> float:
        """Share of orders shipped from more than one location."""
        return self.split_orders / self.orders if self.orders else 0.0

    @property
    def shipments_per_order(self) -> float:
        """Fulfilment orders / orders."""
        return self.shipments / self.orders if self.orders else 0.0

    @property
    def mean_distance_km(self) -> float:
        """Mean great-circle distance from the shipping location to the customer."""
        return self.distance_km / self.shipments if self.shipments else 0.0

    @property
    def unit_backorder_rate(self) -> float:
        """Share of ordered units that no location filled."""
        return self.units_backordered / self.units if self.units else 0.0

    @property
    def order_backorder_rate(self) -> float:
        """Share of orders with at least one unit backordered."""
        return self.backordered_orders / self.orders if self.orders else 0.0

    @property
    def on_time_rate(self) -> float:
        """Share of orders fully allocated with a plan that arrives by the earliest date the
        network could give at placement (backordered orders are late)."""
        return self.on_time_orders / self.orders if self.orders else 0.0

    def as_dict(self) -> dict[str, Any]:
        """The KPIs as JSON-ready values (``omskit simulate --json``)."""
        return {
            "strategy": self.strategy, "orders": self.orders, "units": self.units,
            "total_cost": round(self.total_cost, 2),
            "cost_per_order": round(self.cost_per_order, 4),
            "cost_by_term": {k: round(v, 2) for k, v in sorted(self.cost_by_term.items())},
            "shipments": self.shipments,
            "shipments_per_order": round(self.shipments_per_order, 4),
            "split_rate": round(self.split_rate, 4),
            "mean_distance_km": round(self.mean_distance_km, 1),
            "units_backordered": self.units_backordered,
            "unit_backorder_rate": round(self.unit_backorder_rate, 4),
            "backordered_orders": self.backordered_orders,
            "order_backorder_rate": round(self.order_backorder_rate, 4),
            "on_time_orders": self.on_time_orders,
            "on_time_rate": round(self.on_time_rate, 4),
            "held_orders": self.held_orders,
            "decision_ms_p50": round(self.decision_ms_p50, 3),
            "decision_ms_p95": round(self.decision_ms_p95, 3),
            "place_ms_mean": round(self.place_ms_mean, 3),
            "seconds": round(self.seconds, 3),
            "shipments_by_location": dict(sorted(self.shipments_by_location.items())),
            "units_by_location": dict(sorted(self.units_by_location.items())),
        }


def kpis(run: StrategyRun) -> Kpis:
    """Aggregate one strategy's outcomes."""
    outcomes = run.outcomes
    shipments: Counter[str] = Counter()
    units: Counter[str] = Counter()
    by_term: dict[str, float] = defaultdict(float)
    for o in outcomes:
        for s in o.shipments:
            shipments[s.location] += 1
            units[s.location] += s.units
        for term, value in o.cost_by_term.items():
            by_term[term] += value
    decision_ms = [o.decision_ms for o in outcomes]
    return Kpis(
        strategy=run.strategy, orders=len(outcomes), units=sum(o.units for o in outcomes),
        total_cost=sum(o.cost for o in outcomes), cost_by_term=dict(by_term),
        shipments=sum(len(o.shipments) for o in outcomes),
        split_orders=sum(len(o.shipments) > 1 for o in outcomes),
        distance_km=sum(s.distance_km for o in outcomes for s in o.shipments),
        units_backordered=sum(o.units_backordered for o in outcomes),
        backordered_orders=sum(bool(o.backordered) for o in outcomes),
        on_time_orders=sum(o.on_time for o in outcomes),
        held_orders=sum(bool(o.holds) for o in outcomes),
        decision_ms_p50=percentile(decision_ms, 50),
        decision_ms_p95=percentile(decision_ms, 95),
        place_ms_mean=(sum(o.place_ms for o in outcomes) / len(outcomes)) if outcomes else 0.0,
        seconds=run.seconds,
        shipments_by_location=dict(shipments), units_by_location=dict(units))
