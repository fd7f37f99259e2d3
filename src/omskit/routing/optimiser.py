"""The routing optimiser: the cheapest plan over priced candidates.

The problem, per decision: choose how many units of each SKU each location ships so that
``Σ fixed(location used) + Σ unit cost × units + backorder penalty × units unfilled`` is
least, with no location shipping more than it has and at most ``max_shipments`` locations.
It is a small mixed-integer programme (a fixed-charge transportation problem), solved in
tiers, cheapest first:

1. **Bounds.** The best single location (shipping what it can, backordering the rest) and
   backordering everything give an upper bound. A better plan uses at least two locations
   and every unit costs at least the cheapest way of supplying it, so a location whose fixed
   cost, plus the cheapest other fixed cost, plus that floor reaches the bound is dropped.
   When fewer than two locations survive, the best single location is optimal.
2. **Enumeration** when at most seven locations survive: with the set of locations fixed,
   each SKU is filled from its cheapest locations first, which is optimal; every subset is
   tried. Exact.
3. **Dynamic programming over sets of SKUs** (orders of up to ten SKUs): an upper bound from
   plans that ship each SKU whole from one location, a lower bound from a relaxation in
   which any stock counts as the full quantity, and a local search in between. When the
   bounds meet the plan is optimal (``mask-dp``); otherwise it is settled by the MILP
   (``RoutingPolicy.exact``, the default) or kept with its proven gap (``mask-dp-bounded``).
4. **MILP** with SciPy's HiGHS (``scipy.optimize.milp``) on the survivors: orders of more
   than ten SKUs, and plans the bounds did not prove when ``exact`` is on.
"""

from __future__ import annotations

import functools
import itertools
from collections import defaultdict
from collections.abc import Sequence
from typing import Any, overload

import attrs
import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

from omskit.domain.events import RoutedQuantity
from omskit.domain.routing import Candidate, RoutingPlan, RoutingRequest
from omskit.domain.values import LineQuantity
from omskit.routing.candidates import PricedCandidates

#: At most this many surviving locations are solved by trying every subset.
ENUMERATION_LIMIT = 7
#: Orders with at most this many distinct SKUs use the dynamic programme over SKU sets.
MASK_DP_SKU_LIMIT = 10
#: Locations tried in each local-search move (best standalone cost first).
LOCAL_SEARCH_POOL = 12
#: Seconds HiGHS may take on one decision before its best plan so far is used.
MILP_TIME_LIMIT = 2.0
_EPS = 1e-9
#: From this many candidates a problem's rows are converted when read (:class:`GridRows`).
_LAZY_ROWS_FROM = 100


class GridRows(Sequence[tuple[Any, ...]]):
    """The rows of a 2-D array as tuples of Python numbers, each converted when first read:
    the optimiser reads the rows of a few locations (the survivors of its bounds, the chosen
    ones), not of every candidate, so a decision over a thousand does not convert them all.
    Compares equal to the tuple of its rows."""

    __slots__ = ("_grid", "_rows")

    def __init__(self, grid: np.ndarray) -> None:
        """Rows of ``grid`` (its dtype decides: ``int`` rows of ints, ``float`` of floats)."""
        self._grid = grid
        self._rows: list[tuple[Any, ...] | None] = [None] * len(grid)

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> tuple[Any, ...]: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[tuple[Any, ...], ...]: ...

    def __getitem__(self, index: int | slice) -> tuple[Any, ...] | tuple[tuple[Any, ...], ...]:
        if isinstance(index, slice):
            return tuple(self[k] for k in range(len(self._rows))[index])
        row = self._rows[index]
        if row is None:
            row = self._rows[index] = tuple(self._grid[index].tolist())
        return row

    def __eq__(self, other: object) -> bool:
        if isinstance(other, GridRows | tuple):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return repr(tuple(self))


@attrs.frozen(kw_only=True)
class Problem:
    """One decision in arrays: ``need[s]``; ``fixed[k]``, ``unit[k][s]``, ``avail[k][s]``."""

    skus: tuple[str, ...]
    need: tuple[int, ...]
    codes: tuple[str, ...]
    fixed: tuple[float, ...]
    #: Rows per location (tuples, or :class:`GridRows` built from the engine's arrays).
    unit: Sequence[tuple[float, ...]]
    avail: Sequence[tuple[int, ...]]
    penalty: float
    max_shipments: int | None = None
    #: Settle every decision the bounds cannot prove optimal with HiGHS (slower, exact).
    exact: bool = True
    #: Charged once by every plan that ships anything, beyond ``fixed`` (see ``solve``).
    refund: float = 0.0
    #: ``avail``, ``unit`` and ``fixed`` as float arrays when the caller has them already
    #: (the engine's candidates): the bounds read them instead of converting the tuples.
    grids: tuple[np.ndarray, np.ndarray, np.ndarray] | None = attrs.field(
        default=None, eq=False, repr=False)


@attrs.frozen(kw_only=True)
class Solution:
    """Units per (location index, SKU index), the objective value and how it was found."""

    takes: dict[tuple[int, int], int]
    cost: float
    solver: str
    candidates: int
    survivors: int
    #: For ``mask-dp-bounded``: the plan costs at most this fraction more than the optimum.
    gap_bound: float = 0.0


def _fill(problem: Problem, chosen: Sequence[int]) -> tuple[float, dict[tuple[int, int], int]]:
    """Optimal use of a fixed set of locations: each SKU from its cheapest ones first."""
    # Shipping nothing is charged the refund too: plans compare in one space (see `solve`).
    cost = sum(problem.fixed[k] for k in chosen) if chosen else problem.refund
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
    """The cheapest plan for ``problem`` (see the module docstring).

    ``refund`` is for a cost charged on every shipment but the first (the split penalty):
    it is included in every ``fixed`` cost and refunded once. Plans that ship something are
    compared in that space by adding it to the all-backorder plan too; the returned cost
    has it taken off again.
    """
    solution = _solve(problem)
    return attrs.evolve(solution, cost=solution.cost - problem.refund)


def _solve(problem: Problem) -> Solution:
    n_skus = len(problem.skus)
    penalty = problem.penalty
    everything = sum(problem.need) * penalty + problem.refund
    if not problem.codes:
        return Solution(takes={}, cost=everything, solver="backorder", candidates=0,
                        survivors=0)
    # Arrays for the bound computations, which touch every candidate.
    if problem.grids is not None:
        avail, unit, fixed = problem.grids
    else:
        avail = np.array(problem.avail, dtype=float).reshape(len(problem.codes), n_skus)
        unit = np.array(problem.unit, dtype=float).reshape(len(problem.codes), n_skus)
        fixed = np.array(problem.fixed, dtype=float)
    need = np.array(problem.need, dtype=float)
    usable = (avail > 0) & (unit <= penalty)
    useful_rows = np.flatnonzero(usable.any(axis=1))
    total = int(useful_rows.size)
    best_takes: dict[tuple[int, int], int] = {}
    best_cost, solver = everything, "backorder"
    # Each location alone, shipping what it can and backordering the rest.
    take = np.where(usable, np.minimum(avail, need), 0.0)
    single = fixed + (take * unit).sum(axis=1) + ((need - take) * penalty).sum(axis=1)
    single[~usable.any(axis=1)] = np.inf
    if total:
        k = int(np.argmin(single))
        if single[k] < best_cost - _EPS:
            best_cost, best_takes = _fill(problem, [k])
            solver = "single"
    limit = problem.max_shipments
    if limit == 1 or total <= 1:
        return Solution(takes=best_takes, cost=best_cost, solver=solver, candidates=total,
                        survivors=min(total, 1))

    alive = np.zeros(len(problem.codes), dtype=bool)
    alive[useful_rows] = True
    for _ in range(3):
        if alive.sum() < 2:
            break
        cheapest = np.where(usable & alive[:, None], unit, np.inf).min(axis=0)
        floor = float((need * np.minimum(cheapest, penalty)).sum())
        # A plan better than the best single location uses at least two: one of them is k,
        # the other costs at least the cheapest fixed cost among the rest.
        live_fixed = np.where(alive, fixed, np.inf)
        first, second = np.partition(live_fixed, 1)[:2]
        other = np.where(live_fixed == first, second, first)
        kept = alive & (fixed + other + floor < best_cost - _EPS)
        if kept.sum() == alive.sum():
            break
        alive = kept
    survivors = [int(k) for k in np.flatnonzero(alive)]
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
    if n_skus <= MASK_DP_SKU_LIMIT:
        return _mask_dp(problem, survivors, most, best_cost, best_takes, total, single)
    return _milp(problem, survivors, most, best_cost, best_takes, total)


@functools.lru_cache(maxsize=16)
def _subsets(n_skus: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For ``n_skus`` SKUs: the 0/1 matrix of every SKU set (mask × SKU), and every pair
    (set, non-empty subset of it) as index arrays (set, subset, set minus subset)."""
    masks = np.arange(1 << n_skus)
    bits = ((masks[:, None] >> np.arange(n_skus)) & 1).astype(float)
    sets, subs = [], []
    for m in range(1, 1 << n_skus):
        sub = m
        while sub:
            sets.append(m)
            subs.append(sub)
            sub = (sub - 1) & m
    m_idx = np.array(sets, dtype=np.int64)
    s_idx = np.array(subs, dtype=np.int64)
    return bits, m_idx, s_idx, m_idx ^ s_idx


def _cover_dp(problem: Problem, rows: Sequence[int], covers: np.ndarray,
              most: int) -> tuple[float, list[int]]:
    """Cheapest plan in which each SKU ships whole from one location that ``covers`` it.

    ``group[m]``: the cheapest single location covering every SKU of set ``m`` (its fixed
    cost plus unit cost × quantity); ``levels[j][m]``: the cheapest way to serve set ``m``
    with at most ``j`` shipments, the rest backordered. Returns the cost and the locations.
    """
    n_skus = len(problem.skus)
    bits, m_idx, s_idx, r_idx = _subsets(n_skus)
    need = np.array(problem.need, dtype=float)
    unit = np.array([problem.unit[k] for k in rows], dtype=float)
    fixed = np.array([problem.fixed[k] for k in rows], dtype=float)
    cover_mask = (covers * (1 << np.arange(n_skus))).sum(axis=1).astype(np.int64)
    masks = np.arange(1 << n_skus, dtype=np.int64)
    cost = fixed[:, None] + (unit * need) @ bits.T
    cost[(masks[None, :] & ~cover_mask[:, None]) != 0] = np.inf
    group = cost.min(axis=0)
    group_at = cost.argmin(axis=0)
    group[0] = np.inf
    nothing = bits @ (need * problem.penalty)  # the SKUs of each set backordered
    nothing[-1] += problem.refund  # shipping nothing at all: see `solve`
    levels = [nothing]
    for _ in range(most):
        previous = levels[-1]
        current = previous.copy()
        np.minimum.at(current, m_idx, group[s_idx] + previous[r_idx])
        levels.append(current)
        if np.array_equal(current, previous):
            break
    m = (1 << n_skus) - 1
    value = float(levels[-1][m])
    chosen: list[int] = []
    for j in range(len(levels) - 1, 0, -1):
        if levels[j][m] >= levels[j - 1][m] - _EPS:
            continue
        here = m_idx == m
        options = group[s_idx[here]] + levels[j - 1][r_idx[here]]
        sub = int(s_idx[here][int(np.argmin(options))])
        chosen.append(rows[int(group_at[sub])])
        m ^= sub
    return value, chosen


def _mask_dp(problem: Problem, survivors: Sequence[int], most: int, best_cost: float,
             best_takes: dict[tuple[int, int], int], total: int,
             single: np.ndarray) -> Solution:
    """Exact by dynamic programming over sets of SKUs, with a proof of optimality.

    Two programmes run over the survivors (:func:`_cover_dp`). In the first a location
    serves a SKU only if it has the full quantity: its plan is feasible, an upper bound.
    In the second any stock counts as the full quantity: every real plan costs at least as
    much as the same locations would in this relaxation, so its value is a lower bound.
    Whole-SKU plans lose nothing when stock is not split: of two locations that both hold a
    SKU's full quantity, the cheaper per unit may as well ship it all. The better plan is
    re-filled exactly (partial stock of its locations used where it helps) and improved by
    local search. When the bounds meet, the plan is optimal (``mask-dp``); otherwise HiGHS
    settles it (``milp``, the default, ``exact``) or it is kept with its proven gap
    (``mask-dp-bounded``).
    """
    need = np.array(problem.need, dtype=float)
    rows = list(survivors)
    avail = np.array([problem.avail[k] for k in rows], dtype=float)
    unit = np.array([problem.unit[k] for k in rows], dtype=float)
    usable = unit <= problem.penalty
    full = (avail >= need) & usable
    some = (avail > 0) & usable
    upper, whole = _cover_dp(problem, rows, full, most)
    if np.array_equal(full, some):
        # Every location holding some of a SKU holds all of it (plentiful stock): the
        # relaxation is the same programme, with the same value and plan.
        lower, relaxed = upper, whole
    else:
        lower, relaxed = _cover_dp(problem, rows, some, most)
    for chosen in (whole,) if relaxed is whole else (whole, relaxed):
        cost, takes = _fill(problem, chosen)
        if cost < best_cost - _EPS:
            best_cost, best_takes = cost, takes
    if best_cost > lower + _EPS:
        best_cost, best_takes = _improve(problem, rows, best_cost, best_takes, most, single)
    gap = best_cost - lower
    if gap <= _EPS * max(1.0, abs(lower)):
        return Solution(takes=best_takes, cost=best_cost, solver="mask-dp", candidates=total,
                        survivors=len(survivors))
    if problem.exact or lower <= _EPS:
        return _milp(problem, survivors, most, best_cost, best_takes, total)
    # lower ≤ optimum ≤ best_cost, so best_cost ≤ optimum × (1 + gap / lower).
    return Solution(takes=best_takes, cost=best_cost, solver="mask-dp-bounded",
                    candidates=total, survivors=len(survivors), gap_bound=gap / lower)


def _improve(problem: Problem, rows: Sequence[int], best_cost: float,
             best_takes: dict[tuple[int, int], int], most: int,
             single: np.ndarray) -> tuple[float, dict[tuple[int, int], int]]:
    """Local search from a plan: add, drop or swap one location while the cost falls.

    Moves are tried among the locations with the best standalone cost (and any holding
    part of a SKU's quantity, which the whole-SKU programme could not use), so each round
    costs a few dozen exact re-fills.
    """
    n_skus = len(problem.skus)
    standalone = sorted(rows, key=lambda k: float(single[k]))
    pool = list(dict.fromkeys([
        *standalone[:LOCAL_SEARCH_POOL],
        *(k for k in standalone if any(0 < problem.avail[k][s] < problem.need[s]
                                       for s in range(n_skus)))][:2 * LOCAL_SEARCH_POOL]))
    chosen = sorted({k for k, _ in best_takes})
    for _ in range(4):
        moves: list[list[int]] = []
        if len(chosen) < most:
            moves += [[*chosen, k] for k in pool if k not in chosen]
        moves += [[c for c in chosen if c != out] for out in chosen]
        moves += [[*(c for c in chosen if c != out), k]
                  for out in chosen for k in pool if k not in chosen]
        found = None
        for move in moves:
            cost, takes = _fill(problem, move)
            if cost < best_cost - _EPS:
                best_cost, best_takes, found = cost, takes, move
        if found is None:
            break
        chosen = sorted(found)
    return best_cost, best_takes


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
                  fixed: Sequence[float] | np.ndarray,
                  unit: Sequence[Sequence[float]] | np.ndarray,
                  penalty: float, refund: float = 0.0) -> Problem:
    """Arrays for ``candidates`` (in their order) with the given prices."""
    need = request.units()
    skus = tuple(sorted(need))
    if isinstance(candidates, PricedCandidates):
        # The engine's arrays: availability capped at the need, converted in bulk.
        wanted = np.array([need[s] for s in skus], dtype=float)
        capped = np.minimum(candidates.arrays(skus).available, wanted)
        unit_grid = (unit if isinstance(unit, np.ndarray)
                     else np.array(unit, dtype=float).reshape(capped.shape))
        fixed_grid = fixed if isinstance(fixed, np.ndarray) else np.array(fixed, dtype=float)
        return Problem(
            skus=skus, need=tuple(need[s] for s in skus),
            codes=tuple(candidates.codes), fixed=tuple(fixed_grid.tolist()),
            # Many candidates: rows converted when read. Few: tuples, faster to index.
            unit=(GridRows(unit_grid) if len(capped) >= _LAZY_ROWS_FROM
                  else tuple(map(tuple, unit_grid.tolist()))),
            avail=(GridRows(capped.astype(int)) if len(capped) >= _LAZY_ROWS_FROM
                   else tuple(map(tuple, capped.astype(int).tolist()))),
            penalty=penalty, max_shipments=request.policy.max_shipments,
            exact=request.policy.exact, refund=refund,
            grids=(capped, unit_grid, fixed_grid))
    return Problem(
        skus=skus, need=tuple(need[s] for s in skus),
        codes=tuple(c.code for c in candidates), fixed=tuple(fixed),
        unit=tuple(tuple(row) for row in unit),
        avail=tuple(tuple(min(need[s], c.available.get(s, 0)) for s in skus)
                    for c in candidates),
        penalty=penalty, max_shipments=request.policy.max_shipments,
        exact=request.policy.exact, refund=refund)


class OptimalStrategy:
    """The cheapest plan under the candidates' cost terms and the policy (``optimal``).

    Exact by default (see :mod:`omskit.routing.optimiser`); with ``RoutingPolicy.exact``
    off, a plan the bounds cannot prove keeps its proven gap instead of going to HiGHS. The
    split penalty is charged on every shipment inside the solver and refunded once
    (``Problem.refund``), which is the same as charging every shipment beyond the first.
    """

    code = "optimal"

    def plan(self, request: RoutingRequest, candidates: Sequence[Candidate]) -> RoutingPlan:
        """Route ``request`` at least cost over ``candidates``."""
        policy = request.policy
        skus = sorted(request.units())
        fixed: Sequence[float] | np.ndarray
        unit: Sequence[Sequence[float]] | np.ndarray
        if isinstance(candidates, PricedCandidates):
            arrays = candidates.arrays(skus)
            fixed = arrays.fixed + policy.split_penalty
            unit = arrays.unit
        else:
            fixed = [c.fixed_cost + policy.split_penalty for c in candidates]
            unit = [[c.unit_cost.get(s, 0.0) for s in skus] for c in candidates]
        problem = build_problem(request, candidates, fixed=fixed, unit=unit,
                                penalty=policy.backorder_penalty,
                                refund=policy.split_penalty)
        solution = solve(problem)
        notes: tuple[str, ...] = (
            f"{solution.candidates} useful candidates, {solution.survivors} left after "
            f"bounds; solved by {solution.solver}",)
        if solution.gap_bound:
            notes += (f"proven within {solution.gap_bound:.2%} of the optimum",)
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
        # Distances from the unpriced candidates: no priced candidate is built for this.
        plain = (candidates.unpriced if isinstance(candidates, PricedCandidates)
                 else candidates)
        problem = build_problem(
            request, candidates,
            fixed=[_SHIPMENT + (c.distance_km if c.distance_km is not None else 20_000.0)
                   for c in plain],
            unit=[[0.0] * len(skus)] * len(plain),
            penalty=_SHIPMENT * 100)
        solution = solve(problem)
        return to_plan(self.code, request, problem, solution,
                       (f"solved by {solution.solver}",))
