"""The builtin ``nearest`` strategy as a pure function of a request and its candidates."""

from __future__ import annotations

from collections.abc import Mapping

from omskit.builtin.strategies import NearestLocationStrategy
from omskit.domain.events import RoutedQuantity
from omskit.domain.inventory import Capability
from omskit.domain.routing import Candidate, RoutingRequest
from omskit.domain.values import Coordinates, DeliveryKind, DeliveryMethod, LineQuantity
from omskit.testing import location
from tests.support import MILAN, NAPLES, ROME, TURIN

STRATEGY = NearestLocationStrategy()
CUSTOMER_IN_ROME = Coordinates(lat=ROME[0], lon=ROME[1])
PLACES = {"milan": MILAN, "rome": ROME, "naples": NAPLES, "turin": TURIN}


def candidate(code: str, available: Mapping[str, int], *, distance: float | None = None,
              handling_cost: str = "0",
              capabilities: tuple[Capability, ...] = (Capability.SHIP,)) -> Candidate:
    lat, lon = PLACES.get(code, (0.0, 0.0))
    loc = location(code, lat, lon, handling_cost=handling_cost, capabilities=capabilities)
    if distance is None and code in PLACES:
        assert loc.coordinates is not None
        distance = loc.coordinates.distance_km(CUSTOMER_IN_ROME)
    return Candidate(location=loc, available=dict(available), distance_km=distance)


def request(demand: Mapping[str, int], *, pickup: str | None = None,
            exclude: frozenset[str] = frozenset()) -> RoutingRequest:
    delivery = (DeliveryMethod(kind=DeliveryKind.PICKUP, pickup_location=pickup)
                if pickup else DeliveryMethod())
    return RoutingRequest(
        order_id="o-1", channel="web", segment="standard",
        demand=tuple(LineQuantity(line_id=str(i + 1), sku=sku, quantity=q)
                     for i, (sku, q) in enumerate(demand.items())),
        delivery=delivery, destination=CUSTOMER_IN_ROME, exclude_locations=exclude)


def rq(loc: str, line: str, sku: str, quantity: int) -> RoutedQuantity:
    return RoutedQuantity(location=loc, line_id=line, sku=sku, quantity=quantity)


def lq(line: str, sku: str, quantity: int) -> LineQuantity:
    return LineQuantity(line_id=line, sku=sku, quantity=quantity)


def test_nearest_location_that_fills_everything_wins() -> None:
    # Customer in Rome: rome (0 km) < naples (~190 km) < milan (~477 km).
    plan = STRATEGY.plan(request({"A": 2, "B": 1}), [
        candidate("milan", {"A": 5, "B": 5}),
        candidate("naples", {"A": 5, "B": 5}),
        candidate("rome", {"A": 5, "B": 5}),
    ])
    assert plan.strategy == "nearest"
    assert plan.allocations == (rq("rome", "1", "A", 2), rq("rome", "2", "B", 1))
    assert plan.backordered == ()


def test_a_farther_location_that_fills_the_whole_order_beats_splitting() -> None:
    # rome is nearest but lacks B; naples has everything, so it takes the whole order
    # rather than splitting between rome and naples.
    plan = STRATEGY.plan(request({"A": 2, "B": 1}), [
        candidate("rome", {"A": 5}),
        candidate("naples", {"A": 2, "B": 1}),
        candidate("milan", {"A": 9, "B": 9}),
    ])
    assert plan.allocations == (rq("naples", "1", "A", 2), rq("naples", "2", "B", 1))


def test_split_nearest_first_when_no_location_fills_the_order() -> None:
    plan = STRATEGY.plan(request({"A": 7, "B": 3}), [
        candidate("milan", {"A": 10, "B": 1}),
        candidate("rome", {"A": 3}),
        candidate("naples", {"A": 2, "B": 2}),
    ])
    # A: rome 3, naples 2, milan 2. B: naples 2, milan 1.
    assert plan.allocations == (
        rq("rome", "1", "A", 3), rq("naples", "1", "A", 2), rq("milan", "1", "A", 2),
        rq("naples", "2", "B", 2), rq("milan", "2", "B", 1),
    )
    assert plan.backordered == ()


def test_what_no_location_has_is_backordered() -> None:
    plan = STRATEGY.plan(request({"A": 10, "B": 4, "C": 1}), [
        candidate("rome", {"A": 3, "B": 1}),
        candidate("milan", {"A": 4}),
    ])
    assert plan.allocations == (rq("rome", "1", "A", 3), rq("milan", "1", "A", 4),
                                rq("rome", "2", "B", 1))
    assert plan.backordered == (lq("1", "A", 3), lq("2", "B", 3), lq("3", "C", 1))


def test_no_candidates_backorders_everything() -> None:
    plan = STRATEGY.plan(request({"A": 1, "B": 2}), [])
    assert plan.allocations == ()
    assert plan.backordered == (lq("1", "A", 1), lq("2", "B", 2))


def test_two_lines_of_the_same_sku_share_a_location_stock() -> None:
    # can_fill adds up the demand per SKU: rome has 3 A, the order wants 2 + 2.
    req = RoutingRequest(order_id="o-1", channel="web", segment="standard",
                         demand=(lq("1", "A", 2), lq("2", "A", 2)),
                         delivery=DeliveryMethod(), destination=CUSTOMER_IN_ROME)
    plan = STRATEGY.plan(req, [candidate("rome", {"A": 3}), candidate("milan", {"A": 1})])
    assert plan.allocations == (rq("rome", "1", "A", 2), rq("rome", "2", "A", 1),
                                rq("milan", "2", "A", 1))
    assert plan.backordered == ()


def test_pickup_uses_only_the_pickup_location() -> None:
    plan = STRATEGY.plan(request({"A": 4}, pickup="milan"), [
        candidate("rome", {"A": 10}, capabilities=(Capability.SHIP, Capability.PICKUP)),
        candidate("milan", {"A": 1}, capabilities=(Capability.PICKUP,)),
    ])
    assert plan.allocations == (rq("milan", "1", "A", 1),)
    assert plan.backordered == (lq("1", "A", 3),)


def test_excluded_locations_are_never_used() -> None:
    plan = STRATEGY.plan(request({"A": 2}, exclude=frozenset({"rome", "naples"})), [
        candidate("rome", {"A": 5}),
        candidate("naples", {"A": 5}),
        candidate("milan", {"A": 1}),
    ])
    assert plan.allocations == (rq("milan", "1", "A", 1),)
    assert plan.backordered == (lq("1", "A", 1),)


def test_unknown_distance_sorts_last() -> None:
    plan = STRATEGY.plan(request({"A": 1}), [
        Candidate(location=location("nowhere", 0.0, 0.0), available={"A": 1},
                  distance_km=None),
        candidate("milan", {"A": 1}),
    ])
    assert plan.allocations == (rq("milan", "1", "A", 1),)


def test_ties_go_to_the_cheaper_location_then_the_code() -> None:
    same = 100.0
    plan = STRATEGY.plan(request({"A": 1}), [
        candidate("zeta", {"A": 1}, distance=same, handling_cost="0.50"),
        candidate("beta", {"A": 1}, distance=same, handling_cost="0.10"),
        candidate("alpha", {"A": 1}, distance=same, handling_cost="0.10"),
    ])
    assert plan.allocations == (rq("alpha", "1", "A", 1),)


def test_plan_never_exceeds_availability() -> None:
    cands = [candidate("rome", {"A": 2, "B": 1}), candidate("milan", {"A": 1, "B": 5})]
    plan = STRATEGY.plan(request({"A": 6, "B": 4}), cands)
    taken: dict[tuple[str, str], int] = {}
    for a in plan.allocations:
        taken[(a.location, a.sku)] = taken.get((a.location, a.sku), 0) + a.quantity
    assert taken == {("rome", "A"): 2, ("milan", "A"): 1, ("rome", "B"): 1, ("milan", "B"): 3}
    assert plan.backordered == (lq("1", "A", 3),)
