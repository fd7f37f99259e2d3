"""The exact routing optimiser: cheapest plan over priced candidates.

The problem, per decision: choose how many units of each SKU each location ships so that
``Σ fixed(location used) + Σ unit cost × units + backorder penalty × units unfilled`` is
least, with no location shipping more than it has and at most ``max_shipments`` locations.
It is a small mixed-integer programme (a fixed-charge transportation problem), solved in
three tiers, each exact:

1. **Bounds.** The best single location (shipping what it can, backordering the rest) and
   backordering everything give an upper bound; every unit costs at least the cheapest
   way of supplying it, so a location whose fixed cost plus that lower bound reaches the
   upper bound can never be in a better plan and is dropped. When even the two cheapest
   remaining fixed costs cannot beat the best single location, that location is optimal.
2. **Enumeration** when a handful of locations survive: with the set of locations fixed,
   each SKU is filled from its cheapest locations first, which is optimal; every subset is
   tried.
3. **MILP** otherwise, with SciPy's HiGHS (``scipy.optimize.milp``) on the survivors.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence

import attrs
import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

from omskit.domain.events import RoutedQuantity
from omskit.domain.routing import Candidate, RoutingPlan, RoutingRequest
from omskit.domain.values import LineQuantity

#: At most this many surviving locations are solved by trying every subset.
ENUMERATION_LIMIT = 7
#: Seconds HiGHS may take on one decision before its best plan so far is used.
MILP_TIME_LIMIT = 10.0
_EPS = 1e-9


@attrs.frozen(kw_only=True)
class Problem:
    """One decision in arrays: ``need[s]``; ``fixed[k]``, ``unit[k][s]``, ``avail[k][s]``."""

    skus: tuple[str, ...]
    need: tuple[int, ...]
    codes: tuple[str, ...]
    fixed: tuple[float, ...]
    unit: tuple[tuple[float, ...], ...]
    avail: tuple[tuple[int, ...], ...]
    penalty: float
    max_shipments: int | None = None


@attrs.frozen(kw_only=True)
class Solution:
    """Units per (location index, SKU index), the objective value and how it was found."""

    takes: dict[tuple[int, int], int]
    cost: float
    solver: str
    candidates: int
    survivors: int


def _fill(problem: Problem, chosen: Sequence[int]) -> tuple[float, dict[tuple[int, int], int]]:
    """Optimal use of a fixed set of locations: each SKU from its cheapest ones first."""
    cost = sum(problem.fixed[k] for k in chosen)
    takes: dict[tuple[int, int], int] = {}
    for s, need in enumerate(problem.need):
        left = need
        for k in sorted(chosen, key=lambda k: (problem.unit[k][s], k)):
            if left == 0 or problem.unit[k][s] > problem.penalty:
                break
            take = min(left, problem.avail[k][s])
            if take:
                takes[(k, s)] = take
                cost += take * problem.unit[k][s]
                left -= take
        cost += left * problem.penalty
    return cost, takes


def solve(problem: Problem) -> Solution:
    """The cheapest plan for ``problem`` (see the module docstring)."""
    n_skus = len(problem.skus)
    penalty = problem.penalty
    everything = sum(problem.need) * penalty
    useful = [k for k in range(len(problem.codes))
              if any(problem.avail[k][s] > 0 and problem.unit[k][s] <= penalty
                     for s in range(n_skus))]
    total = len(useful)
    best_cost, best_takes, solver = everything, {}, "backorder"
    for k in useful:
        cost, takes = _fill(problem, [k])
        if cost < best_cost - _EPS:
            best_cost, best_takes, solver = cost, takes, "single"
    limit = problem.max_shipments
    if limit == 1 or total <= 1:
        return Solution(takes=best_takes, cost=best_cost, solver=solver, candidates=total,
                        survivors=min(total, 1))

    survivors = useful
    for _ in range(3):
        floor = sum(
            problem.need[s] * min([penalty, *(problem.unit[k][s] for k in survivors
                                              if problem.avail[k][s] > 0)])
            for s in range(n_skus))
        kept = [k for k in survivors if problem.fixed[k] + floor < best_cost - _EPS]
        if len(kept) == len(survivors):
            break
        survivors = kept
    if len(survivors) >= 2:
        two = sorted(problem.fixed[k] for k in survivors)[:2]
        if sum(two) + floor >= best_cost - _EPS:
            survivors = []
    if len(survivors) < 2:
        # No plan with two or more locations can beat the best single one (or none).
        return Solution(takes=best_takes, cost=best_cost, solver=solver, candidates=total,
                        survivors=len(survivors))

    most = len(survivors) if limit is None else min(limit, len(survivors))
    if len(survivors) <= ENUMERATION_LIMIT:
        for size in range(2, most + 1):
            for chosen in itertools.combinations(survivors, size):
                cost, takes = _fill(problem, chosen)
                if cost < best_cost - _EPS:
                    best_cost, best_takes = cost, takes
        return Solution(takes=best_takes, cost=best_cost, solver="enumeration",
                        candidates=total, survivors=len(survivors))
    return _milp(problem, survivors, most, best_cost, best_takes, total)


def _milp(problem: Problem, survivors: Sequence[int], most: int, best_cost: float,
          best_takes: dict[tuple[int, int], int], total: int) -> Solution:
    penalty = problem.penalty
    pairs = [(k, s) for k in survivors for s in range(len(problem.skus))
             if problem.avail[k][s] > 0 and problem.unit[k][s] <= penalty]
    n_x, n_y, n_b = len(pairs), len(survivors), len(problem.skus)
    y_index = {k: n_x + i for i, k in enumerate(survivors)}
    b0 = n_x + n_y
    cost = np.concatenate([
        [problem.unit[k][s] for k, s in pairs],
        [problem.fixed[k] for k in survivors],
        np.full(n_b, penalty),
    ])
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    lower: list[float] = []
    upper: list[float] = []
    # Demand: every unit of every SKU is shipped or backordered.
    for s in range(n_b):
        row = len(lower)
        rows.append(row)
        cols.append(b0 + s)
        vals.append(1.0)
        lower.append(problem.need[s])
        upper.append(problem.need[s])
        for i, (_, s2) in enumerate(pairs):
            if s2 == s:
                rows.append(row)
                cols.append(i)
                vals.append(1.0)
    # Linking: a location ships only if it is used (pays its fixed cost).
    for i, (k, s) in enumerate(pairs):
        row = len(lower)
        rows.extend((row, row))
        cols.extend((i, y_index[k]))
        vals.extend((1.0, -float(problem.avail[k][s])))
        lower.append(-np.inf)
        upper.append(0.0)
    # At least one shipment (backordering everything was priced separately), at most `most`.
    row = len(lower)
    for k in survivors:
        rows.append(row)
        cols.append(y_index[k])
        vals.append(1.0)
    lower.append(1.0)
    upper.append(float(most))
    matrix = coo_array((vals, (rows, cols)), shape=(len(lower), n_x + n_y + n_b)).tocsr()
    integrality = np.concatenate([np.ones(n_x), np.ones(n_y), np.zeros(n_b)])
    bounds = Bounds(
        np.zeros(n_x + n_y + n_b),
        np.concatenate([[problem.avail[k][s] for k, s in pairs], np.ones(n_y),
                        np.array(problem.need, dtype=float)]),
    )
    result = milp(cost, constraints=LinearConstraint(matrix, lower, upper),
                  integrality=integrality, bounds=bounds,
                  options={"time_limit": MILP_TIME_LIMIT, "mip_rel_gap": 1e-7})
    if result.x is None:
        return Solution(takes=best_takes, cost=best_cost, solver="milp-fallback",
                        candidates=total, survivors=len(survivors))
    takes = {pair: round(float(result.x[i])) for i, pair in enumerate(pairs)
             if round(float(result.x[i])) > 0}
    chosen = sorted({k for k, _ in takes})
    # Re-price the rounded solution exactly; keep the bound plan if it is no worse.
    milp_cost, milp_takes = _fill(problem, chosen)
    if milp_cost < best_cost - _EPS:
        best_cost, best_takes = milp_cost, milp_takes
    solver = "milp" if result.status == 0 else "milp-time-limit"
    return Solution(takes=best_takes, cost=best_cost, solver=solver, candidates=total,
                    survivors=len(survivors))


def to_plan(strategy: str, request: RoutingRequest, problem: Problem,
            solution: Solution, notes: tuple[str, ...] = ()) -> RoutingPlan:
    """Spread a solution's units per SKU over the request's lines, in line order."""
    left: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for (k, s), units in sorted(solution.takes.items(),
                                key=lambda item: problem.codes[item[0][0]]):
        left[problem.skus[s]].append((problem.codes[k], units))
    allocations: list[RoutedQuantity] = []
    backordered: list[LineQuantity] = []
    for d in request.demand:
        wanted = d.quantity
        sources = left[d.sku]
        for i, (code, units) in enumerate(sources):
            take = min(wanted, units)
            if take:
                allocations.append(RoutedQuantity(location=code, line_id=d.line_id,
                                                  sku=d.sku, quantity=take))
                sources[i] = (code, units - take)
                wanted -= take
            if not wanted:
                break
        if wanted:
            backordered.append(LineQuantity(line_id=d.line_id, sku=d.sku, quantity=wanted))
    return RoutingPlan(strategy=strategy, allocations=tuple(allocations),
                       backordered=tuple(backordered), solver=solution.solver, notes=notes)


def build_problem(request: RoutingRequest, candidates: Sequence[Candidate], *,
                  fixed: Sequence[float], unit: Sequence[Sequence[float]],
                  penalty: float) -> Problem:
    """Arrays for ``candidates`` (in their order) with the given prices."""
    need = request.units()
    skus = tuple(sorted(need))
    return Problem(
        skus=skus, need=tuple(need[s] for s in skus),
        codes=tuple(c.code for c in candidates), fixed=tuple(fixed),
        unit=tuple(tuple(row) for row in unit),
        avail=tuple(tuple(min(need[s], c.available.get(s, 0)) for s in skus)
                    for c in candidates),
        penalty=penalty, max_shipments=request.policy.max_shipments)


class OptimalStrategy:
    """The cheapest plan under the candidates' cost terms and the policy (``optimal``).

    Exact: bounds, then enumeration or HiGHS (see :mod:`omskit.routing.optimiser`). The
    split penalty is charged on every shipment inside the solver and refunded once, which
    is the same as charging every shipment beyond the first.
    """

    code = "optimal"

    def plan(self, request: RoutingRequest, candidates: Sequence[Candidate]) -> RoutingPlan:
        """Route ``request`` at least cost over ``candidates``."""
        policy = request.policy
        need = request.units()
        skus = sorted(need)
        problem = build_problem(
            request, candidates,
            fixed=[c.fixed_cost + policy.split_penalty for c in candidates],
            unit=[[c.unit_cost.get(s, 0.0) for s in skus] for c in candidates],
            penalty=policy.backorder_penalty)
        solution = solve(problem)
        notes = (f"{solution.candidates} useful candidates, {solution.survivors} left after "
                 f"bounds; solved by {solution.solver}",)
        return to_plan(self.code, request, problem, solution, notes)


#: Cost of one shipment for ``fewest-shipments``: more than any total distance on Earth.
_SHIPMENT = 100_000.0


class FewestShipmentsStrategy:
    """Fewest shipments, then the shortest total distance (``fewest-shipments``).

    Solved exactly with the same optimiser: a shipment costs more than any distance and a
    backordered unit more than any shipment, so only stock no allowed set of locations has
    is backordered. Locations with unknown distance count as 20,000 km.
    """

    code = "fewest-shipments"

    def plan(self, request: RoutingRequest, candidates: Sequence[Candidate]) -> RoutingPlan:
        """Route ``request`` with as few locations as possible, nearest first."""
        skus = sorted(request.units())
        problem = build_problem(
            request, candidates,
            fixed=[_SHIPMENT + (c.distance_km if c.distance_km is not None else 20_000.0)
                   for c in candidates],
            unit=[[0.0] * len(skus) for _ in candidates],
            penalty=_SHIPMENT * 100)
        solution = solve(problem)
        return to_plan(self.code, request, problem, solution,
                       (f"solved by {solution.solver}",))
