"""The independent reference: prices and an exact per-order optimum with PuLP + CBC.

Nothing here imports omskit. Prices come straight from the generated network (``netgen``):

- (no split penalty: the benchmark runs with ``split_penalty`` 0);
- a location ships by the carrier with the lowest parcel price for the lane (``base +
  per_km × km``, ties by per-unit price then code) among those serving the destination
  country; that is the rule omskit documents for its shipping cost term;
- using a location costs that parcel price once; every unit costs the carrier's per-unit
  price plus the location's handling cost; every unit left unfilled costs the penalty.

A location may serve an order when it ships parcels, has daily capacity left (or none set)
and has promisable stock (on hand minus safety stock) of one of the order's SKUs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulp
from netgen import CARRIERS, OrderSpec, Site, haversine_km

#: One location's state for one decision: site index, promisable units per SKU, capacity left.
Raw = tuple[int, Mapping[str, int], int | None]


@dataclass(frozen=True)
class Price:
    """What using one location costs for one order."""

    fixed: float
    unit: float
    km: float
    carrier: str


def price(site: Site, order: OrderSpec) -> Price | None:
    """The lane's price, or ``None`` when no carrier serves the destination."""
    km = haversine_km(site.lat, site.lon, order.lat, order.lon)
    best: tuple[float, float, str] | None = None
    for c in CARRIERS:
        if c.countries and order.country not in c.countries:
            continue
        rate = (c.base + c.per_km * km, c.per_unit, c.code)
        if best is None or rate < best:
            best = rate
    if best is None:
        return None
    return Price(fixed=best[0], unit=best[1] + site.handling, km=km, carrier=best[2])


def need_of(order: OrderSpec) -> dict[str, int]:
    """Units wanted per SKU."""
    need: dict[str, int] = defaultdict(int)
    for _, sku, qty in order.lines:
        need[sku] += qty
    return dict(need)


def eligible(sites: Sequence[Site], order: OrderSpec, raw: Sequence[Raw]) -> list[Raw]:
    """The raw locations that may serve ``order``."""
    need = need_of(order)
    return [(k, avail, cap) for k, avail, cap in raw
            if sites[k].ships and (cap is None or cap > 0)
            and any(avail.get(s, 0) > 0 for s in need)]


def plan_cost(sites: Sequence[Site], order: OrderSpec, takes: Mapping[tuple[int, str], int],
              penalty: float) -> float:
    """Price a plan given as units per (site index, SKU); the rest is backordered."""
    need = need_of(order)
    used = sorted({k for (k, _), q in takes.items() if q > 0})
    cost = 0.0
    prices = {}
    for k in used:
        p = price(sites[k], order)
        if p is None:
            raise ValueError(f"{sites[k].code} cannot ship to {order.country}")
        prices[k] = p
        cost += p.fixed
    shipped: dict[str, int] = defaultdict(int)
    for (k, sku), q in takes.items():
        if q > 0:
            cost += q * prices[k].unit
            shipped[sku] += q
    cost += penalty * sum(max(0, q - shipped[s]) for s, q in need.items())
    return cost


@dataclass(frozen=True)
class Optimum:
    """The reference answer for one order."""

    cost: float
    takes: dict[tuple[int, str], int]
    status: str
    variables: int


def solve(sites: Sequence[Site], order: OrderSpec, raw: Sequence[Raw], penalty: float,
          max_shipments: int | None = None) -> Optimum:
    """The exact cheapest plan: a fixed-charge transportation MILP solved by CBC."""
    need = need_of(order)
    skus = sorted(need)
    options = []
    for k, avail, _ in eligible(sites, order, raw):
        p = price(sites[k], order)
        if p is not None:
            options.append((k, p, {s: min(need[s], avail.get(s, 0)) for s in skus}))
    if not options:
        return Optimum(cost=penalty * sum(need.values()), takes={}, status="no-candidate",
                       variables=0)
    model = pulp.LpProblem("route", pulp.LpMinimize)
    y = {k: pulp.LpVariable(f"y{k}", cat="Binary") for k, _, _ in options}
    x = {(k, s): pulp.LpVariable(f"x{k}_{s.replace('-', '_')}", 0, cap[s], cat="Integer")
         for k, _, cap in options for s in skus if cap[s] > 0}
    b = {s: pulp.LpVariable(f"b_{s.replace('-', '_')}", 0, need[s]) for s in skus}
    model += (pulp.lpSum(p.fixed * y[k] for k, p, _ in options)
              + pulp.lpSum(p.unit * x[(k, s)] for k, p, _ in options for s in skus
                           if (k, s) in x)
              + pulp.lpSum(penalty * b[s] for s in skus))
    for s in skus:
        model += pulp.lpSum(x[(k, s)] for k, _, _ in options if (k, s) in x) + b[s] == need[s]
    for (k, _sku), var in x.items():
        model += var <= var.upBound * y[k]
    if max_shipments is not None:
        model += pulp.lpSum(y.values()) <= max_shipments
    solver = pulp.PULP_CBC_CMD(msg=False, threads=1, gapRel=1e-10, gapAbs=1e-9)
    model.solve(solver)
    status = pulp.LpStatus[model.status]
    if status != "Optimal":
        raise RuntimeError(f"CBC: {status} for {order.order_id}")
    takes = {(k, s): round(var.value()) for (k, s), var in x.items()
             if var.value() is not None and round(var.value()) > 0}
    # Price the integral solution exactly (the objective carries CBC's float tolerance).
    cost = plan_cost(sites, order, takes, penalty)
    return Optimum(cost=cost, takes=takes, status=status, variables=len(x) + len(y) + len(b))
