"""The routing optimiser against an independent oracle, and its strategies' contracts.

The oracle is the whole problem as one mixed-integer programme, written here without the
optimiser's bounds, pruning or enumeration, and solved by HiGHS with no time limit.
"""

from __future__ import annotations

import itertools
from decimal import Decimal

import attrs
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp

from omskit.domain.inventory import Location, LocationKind
from omskit.domain.routing import Candidate, RoutingPolicy, RoutingRequest
from omskit.domain.values import Coordinates, DeliveryMethod, LineQuantity
from omskit.routing.engine import check_plan
from omskit.routing.optimiser import (
    ENUMERATION_LIMIT,
    FewestShipmentsStrategy,
    OptimalStrategy,
    Problem,
    solve,
)


def oracle(problem: Problem) -> float:
    """Least cost of ``problem`` by one full MILP (x per location×SKU, y per location)."""
    k_count, s_count = len(problem.codes), len(problem.skus)
    n_x = k_count * s_count
    n = n_x + k_count + s_count
    cost = np.zeros(n)
    upper = np.zeros(n)
    for k in range(k_count):
        for s in range(s_count):
            cost[k * s_count + s] = problem.unit[k][s]
            upper[k * s_count + s] = problem.avail[k][s]
        cost[n_x + k] = problem.fixed[k]
        upper[n_x + k] = 1
    for s in range(s_count):
        cost[n_x + k_count + s] = problem.penalty
        upper[n_x + k_count + s] = problem.need[s]
    rows = []
    lo: list[float] = []
    hi: list[float] = []
    for s in range(s_count):
        row = np.zeros(n)
        for k in range(k_count):
            row[k * s_count + s] = 1
        row[n_x + k_count + s] = 1
        rows.append(row)
        lo.append(problem.need[s])
        hi.append(problem.need[s])
    for k in range(k_count):
        for s in range(s_count):
            row = np.zeros(n)
            row[k * s_count + s] = 1
            row[n_x + k] = -max(problem.avail[k][s], 0)
            rows.append(row)
            lo.append(-np.inf)
            hi.append(0)
    if problem.max_shipments is not None:
        row = np.zeros(n)
        row[n_x:n_x + k_count] = 1
        rows.append(row)
        lo.append(0)
        hi.append(problem.max_shipments)
    result = milp(cost, constraints=LinearConstraint(np.array(rows), lo, hi),
                  integrality=np.ones(n), bounds=Bounds(np.zeros(n), upper))
    assert result.success
    return float(result.fun)


@st.composite
def problems(draw: st.DrawFn, max_locations: int = 12) -> Problem:
    k_count = draw(st.integers(1, max_locations))
    s_count = draw(st.integers(1, 4))
    return Problem(
        skus=tuple(f"S{s}" for s in range(s_count)),
        need=tuple(draw(st.integers(1, 6)) for _ in range(s_count)),
        codes=tuple(f"L{k:02d}" for k in range(k_count)),
        fixed=tuple(draw(st.floats(0, 60).map(lambda f: round(f, 2))) for _ in range(k_count)),
        unit=tuple(tuple(draw(st.floats(0, 12).map(lambda f: round(f, 2)))
                         for _ in range(s_count)) for _ in range(k_count)),
        avail=tuple(tuple(draw(st.integers(0, 6)) for _ in range(s_count))
                    for _ in range(k_count)),
        penalty=draw(st.sampled_from([5.0, 20.0, 40.0, 200.0])),
        max_shipments=draw(st.sampled_from([None, None, 1, 2, 3])),
    )


def _check_feasible(problem: Problem, takes: dict[tuple[int, int], int]) -> None:
    shipped = [0] * len(problem.skus)
    for (k, s), units in takes.items():
        assert 0 < units <= problem.avail[k][s]
        shipped[s] += units
    assert all(shipped[s] <= problem.need[s] for s in range(len(problem.skus)))
    if problem.max_shipments is not None:
        assert len({k for k, _ in takes}) <= problem.max_shipments


def _cost_of(problem: Problem, takes: dict[tuple[int, int], int]) -> float:
    used = {k for k, _ in takes}
    shipped = [0] * len(problem.skus)
    total = sum(problem.fixed[k] for k in used)
    for (k, s), units in takes.items():
        total += units * problem.unit[k][s]
        shipped[s] += units
    return total + sum((problem.need[s] - shipped[s]) * problem.penalty
                       for s in range(len(problem.skus)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_solve_equals_the_oracle_or_proves_its_gap(problem: Problem) -> None:
    best = oracle(problem)
    exact = solve(problem)  # exact by default
    _check_feasible(problem, exact.takes)
    assert _cost_of(problem, exact.takes) == pytest.approx(exact.cost, abs=1e-6)
    assert exact.cost == pytest.approx(best, abs=1e-6)
    fast = solve(attrs.evolve(problem, exact=False))
    _check_feasible(problem, fast.takes)
    if fast.solver == "mask-dp-bounded":
        # Not proven optimal: never better than the optimum, never worse than its bound.
        assert best - 1e-6 <= fast.cost <= best * (1 + fast.gap_bound) + 1e-6
    else:
        assert fast.cost == pytest.approx(best, abs=1e-6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(), st.sampled_from([0.5, 3.0, 20.0]))
def test_a_split_penalty_is_charged_per_extra_shipment_only(problem: Problem,
                                                            split: float) -> None:
    """The solver's cost equals the plan's cost with the split penalty on every shipment but
    the first, and no plan with that pricing is cheaper (checked by enumerating sets)."""
    charged = attrs.evolve(problem, fixed=tuple(f + split for f in problem.fixed),
                           refund=split)
    solution = solve(charged)
    shipments = len({k for k, _ in solution.takes})
    assert solution.cost == pytest.approx(
        _cost_of(problem, solution.takes) + split * max(0, shipments - 1), abs=1e-6)
    # Independent optimum: the oracle per number of shipments, plus the penalty.
    best = sum(problem.need) * problem.penalty
    for n in range(1, len(problem.codes) + 1):
        if problem.max_shipments is not None and n > problem.max_shipments:
            break
        capped = attrs.evolve(problem, max_shipments=n)
        best = min(best, oracle(capped) + split * (n - 1))
    assert solution.cost <= best + 1e-6


def test_every_tier_is_reached() -> None:
    """The property test above exercises bounds, enumeration and MILP, not one of them."""
    # Two far-apart fixed costs: the bounds prove the single location optimal.
    single = Problem(skus=("A",), need=(2,), codes=("near", "far"), fixed=(1.0, 50.0),
                     unit=((1.0,), (1.0,)), avail=((2,), (2,)), penalty=100.0)
    assert solve(single).solver == "single"
    # Stock spread thin over a few locations: a split, found by enumeration.
    spread = Problem(skus=("A", "B"), need=(2, 2), codes=("L0", "L1", "L2"),
                     fixed=(5.0, 5.0, 6.0), unit=((1.0, 1.0),) * 3,
                     avail=((2, 0), (0, 2), (1, 1)), penalty=100.0)
    assert solve(spread).solver == "enumeration"
    assert solve(spread).cost == pytest.approx(oracle(spread))
    # Too many locations to enumerate, each SKU whole somewhere: the SKU-set programme.
    count = ENUMERATION_LIMIT + 5
    whole = Problem(skus=("A", "B"), need=(1, 1), codes=tuple(f"L{i}" for i in range(count)),
                    fixed=tuple(5.0 + i % 3 for i in range(count)),
                    unit=((1.0, 1.0),) * count,
                    avail=tuple(((1, 0), (0, 1))[i % 2] for i in range(count)), penalty=100.0)
    solution = solve(whole)
    assert solution.solver == "mask-dp"
    assert solution.cost == pytest.approx(oracle(whole))
    # One unit each of a SKU wanted twelve times: bounds cannot meet, HiGHS settles it when
    # asked to be exact.
    many = Problem(skus=("A",), need=(count,), codes=tuple(f"L{i}" for i in range(count)),
                   fixed=tuple(float(i % 3) for i in range(count)), unit=((1.0,),) * count,
                   avail=((1,),) * count, penalty=100.0, exact=True)
    solution = solve(many)
    assert solution.solver == "milp"
    assert solution.cost == pytest.approx(oracle(many))


def _candidate(code: str, lat: float, lon: float, stock: dict[str, int], *, fixed: float,
               unit: float, dest: Coordinates) -> Candidate:
    where = Coordinates(lat=lat, lon=lon)
    return Candidate(
        location=Location(code=code, name=code, kind=LocationKind.WAREHOUSE,
                          coordinates=where, handling_cost=Decimal(0)),
        available=stock, distance_km=where.distance_km(dest), fixed_cost=fixed,
        unit_cost=dict.fromkeys(stock, unit))


MILANO = Coordinates(lat=45.46, lon=9.19)


def _request(demand: dict[str, int], policy: RoutingPolicy | None = None) -> RoutingRequest:
    return RoutingRequest(
        order_id="o-1", channel="web", segment="standard",
        demand=tuple(LineQuantity(line_id=str(i), sku=sku, quantity=q)
                     for i, (sku, q) in enumerate(demand.items(), start=1)),
        delivery=DeliveryMethod(), destination=MILANO, policy=policy or RoutingPolicy())


def test_optimal_splits_when_two_cheap_parcels_beat_one_dear_one() -> None:
    candidates = [
        _candidate("torino", 45.07, 7.69, {"A": 1}, fixed=5.0, unit=1.0, dest=MILANO),
        _candidate("bergamo", 45.69, 9.67, {"B": 1}, fixed=5.0, unit=1.0, dest=MILANO),
        _candidate("napoli", 40.85, 14.27, {"A": 1, "B": 1}, fixed=25.0, unit=1.0,
                   dest=MILANO),
    ]
    request = _request({"A": 1, "B": 1})
    plan = OptimalStrategy().plan(request, candidates)
    check_plan(plan, request, candidates)
    assert sorted(plan.locations()) == ["bergamo", "torino"]
    # With a split penalty above the saving (25 − 10), one parcel from Napoli wins.
    penalised = _request({"A": 1, "B": 1}, RoutingPolicy(split_penalty=16.0))
    assert OptimalStrategy().plan(penalised, candidates).locations() == ["napoli"]
    # max_shipments=1 forbids the split outright.
    single = _request({"A": 1, "B": 1}, RoutingPolicy(max_shipments=1))
    assert OptimalStrategy().plan(single, candidates).locations() == ["napoli"]


def test_optimal_backorders_units_that_cost_more_than_the_penalty() -> None:
    candidates = [_candidate("far", 40.85, 14.27, {"A": 5}, fixed=50.0, unit=1.0, dest=MILANO)]
    request = _request({"A": 2}, RoutingPolicy(backorder_penalty=20.0))
    plan = OptimalStrategy().plan(request, candidates)
    assert plan.allocations == ()
    assert [(b.sku, b.quantity) for b in plan.backordered] == [("A", 2)]
    # Three units make the parcel worth it: 50 + 3 < 3 × 20.
    bigger = _request({"A": 3}, RoutingPolicy(backorder_penalty=20.0))
    assert OptimalStrategy().plan(bigger, candidates).locations() == ["far"]


def test_fewest_shipments_prefers_one_far_parcel_to_two_near_ones() -> None:
    candidates = [
        _candidate("torino", 45.07, 7.69, {"A": 1}, fixed=1.0, unit=0.0, dest=MILANO),
        _candidate("bergamo", 45.69, 9.67, {"B": 1}, fixed=1.0, unit=0.0, dest=MILANO),
        _candidate("napoli", 40.85, 14.27, {"A": 1, "B": 1}, fixed=99.0, unit=0.0,
                   dest=MILANO),
        _candidate("palermo", 38.12, 13.36, {"A": 1, "B": 1}, fixed=1.0, unit=0.0,
                   dest=MILANO),
    ]
    request = _request({"A": 1, "B": 1})
    plan = FewestShipmentsStrategy().plan(request, candidates)
    check_plan(plan, request, candidates)
    # One parcel, and of the two that can send one, the nearer (Napoli), whatever it costs.
    assert plan.locations() == ["napoli"]


def test_lines_of_the_same_sku_are_filled_in_line_order() -> None:
    candidates = [_candidate("milano", 45.46, 9.19, {"A": 3}, fixed=1.0, unit=1.0,
                             dest=MILANO)]
    request = RoutingRequest(
        order_id="o-1", channel="web", segment="standard",
        demand=(LineQuantity(line_id="1", sku="A", quantity=2),
                LineQuantity(line_id="2", sku="A", quantity=2)),
        delivery=DeliveryMethod(), destination=MILANO)
    plan = OptimalStrategy().plan(request, candidates)
    check_plan(plan, request, candidates)
    assert [(a.line_id, a.quantity) for a in plan.allocations] == [("1", 2), ("2", 1)]
    assert [(b.line_id, b.quantity) for b in plan.backordered] == [("2", 1)]


@pytest.mark.parametrize("strategy", [OptimalStrategy(), FewestShipmentsStrategy()])
def test_strategies_never_exceed_availability(strategy: OptimalStrategy) -> None:
    for stock in itertools.product(range(3), repeat=3):
        candidates = [
            _candidate(f"L{i}", 45 + i, 9.0, {"A": units}, fixed=2.0 + i, unit=1.0,
                       dest=MILANO)
            for i, units in enumerate(stock)
        ]
        request = _request({"A": 4})
        plan = strategy.plan(request, candidates)
        check_plan(plan, request, candidates)  # raises InvalidRoutingPlan on any breach
        assert sum(a.quantity for a in plan.allocations) == min(4, sum(stock))
