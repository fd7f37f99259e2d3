"""Pricing in column form: the builtin's CostTable and the engine's PricedCandidates must give
exactly what pricing term by term gives (the figures, the terms, their order)."""

from __future__ import annotations

import random
from collections import defaultdict
from decimal import Decimal

import attrs
import pytest

from omskit.builtin.rules import CoreRulesPlugin, cheapest_rate
from omskit.domain.carriers import CarrierRate, RateTableCarrier
from omskit.domain.inventory import Location
from omskit.domain.routing import Candidate, CostTerm, RoutingRequest
from omskit.domain.values import Coordinates
from omskit.routing.candidates import CostTable, PricedCandidates
from omskit.testing import candidate, routing_request

CARRIERS = (
    RateTableCarrier(code="ground", base=4.5, per_km=0.004, per_unit=0.4,
                     countries=frozenset({"IT", "FR"})),
    RateTableCarrier(code="express", base=8.0, per_km=0.0012, per_unit=0.6, km_per_day=700),
    # Same parcel price as `ground` at every distance, cheaper per unit: wins every tie.
    RateTableCarrier(code="budget", base=4.5, per_km=0.004, per_unit=0.3, km_per_day=0,
                     countries=frozenset({"IT"})),
    # An exact tie with `ground` on (fixed, per_unit): the lower code wins.
    RateTableCarrier(code="aaa-ground", base=4.5, per_km=0.004, per_unit=0.4),
)


def network(n: int, request: RoutingRequest, seed: int = 7) -> list[Candidate]:
    """``n`` candidates at seeded distances (some unknown, some zero), seeded handling."""
    rng = random.Random(seed)
    found = []
    for k in range(n):
        c = candidate(f"loc-{k:03d}", 40 + rng.uniform(0, 10), 5 + rng.uniform(0, 15),
                      {"A": rng.randint(0, 5), "B": rng.randint(0, 5)}, to=request)
        where = attrs.evolve(c.location,
                             handling_cost=Decimal(rng.choice(["0", "0.35", "1.2", "2"])))
        distance = c.distance_km if k % 7 else (None if k % 2 else 0.0)
        found.append(attrs.evolve(c, location=where, distance_km=distance))
    return found


def terms_one_by_one(carriers: tuple[RateTableCarrier, ...], candidates: list[Candidate],
                     request: RoutingRequest) -> list[CostTerm]:
    """The builtin's terms as it priced them before the column form: one per location."""
    found = []
    for c in candidates:
        handling = float(c.location.handling_cost)
        if handling:
            found.append(CostTerm(location=c.code, term="handling", per_unit=handling))
        rate = cheapest_rate(carriers, c, request)
        if rate is not None:
            found.append(CostTerm(location=c.code, term="shipping", fixed=rate.fixed,
                                  per_unit=rate.per_unit, note=rate.carrier,
                                  transit_days=rate.transit_days))
    return found


@pytest.mark.parametrize("country", ["IT", "FR", "US", None])
@pytest.mark.parametrize("carriers", [CARRIERS, CARRIERS[:1], CARRIERS[1:2], ()])
def test_the_column_form_gives_the_same_terms_as_pricing_one_by_one(
        country: str | None, carriers: tuple[RateTableCarrier, ...]) -> None:
    request = routing_request({"A": 2, "B": 1}, country=country)
    candidates = network(60, request)
    table = CoreRulesPlugin().omskit_routing_cost_terms(request, candidates, carriers)
    assert isinstance(table, CostTable)
    expected = terms_one_by_one(carriers, candidates, request)
    assert list(table) == expected
    assert len(table) == len(expected)
    assert table[0] == expected[0]


class OddCarrier:
    """Not a RateTableCarrier: its price depends on the origin, so it is asked lane by lane."""

    code = "odd"

    def rate(self, origin: Location, destination: Coordinates | None,
             distance_km: float | None, country: str | None) -> CarrierRate | None:
        if origin.code.endswith("3"):
            return None
        return CarrierRate(carrier="odd", fixed=2.0 + 2 * int(origin.code[-1]), per_unit=0.25,
                           transit_days=2)


def test_other_carriers_are_asked_lane_by_lane() -> None:
    request = routing_request({"A": 1}, country="IT")
    candidates = network(20, request)
    carriers = (CARRIERS[0], OddCarrier())
    table = CoreRulesPlugin().omskit_routing_cost_terms(request, candidates, carriers)
    expected = terms_one_by_one(carriers, candidates, request)  # type: ignore[arg-type]
    assert list(table) == expected
    assert any(t.note == "odd" for t in expected)
    assert any(t.note == "ground" for t in expected)


def price_one_by_one(c: Candidate, terms: list[CostTerm], skus: list[str]) -> Candidate:
    """A priced candidate as the engine built one before the arrays."""
    fixed = per_unit = 0.0
    by_sku: dict[str, float] = defaultdict(float)
    for t in terms:
        fixed += t.fixed
        per_unit += t.per_unit
        for sku, extra in t.per_unit_by_sku.items():
            by_sku[sku] += extra
    return attrs.evolve(c, fixed_cost=fixed, terms=tuple(terms),
                        unit_cost={s: per_unit + by_sku.get(s, 0.0) for s in skus})


def test_priced_candidates_match_pricing_one_by_one() -> None:
    request = routing_request({"A": 2, "B": 1}, country="IT")
    candidates = network(40, request)
    table = CoreRulesPlugin().omskit_routing_cost_terms(request, candidates, CARRIERS)
    # Another plugin's terms: margins for some SKUs, twice for one location, and a term for
    # a location that is not a candidate (it counts for nothing).
    margins = [CostTerm(location="loc-004", term="margin", fixed=1.5,
                        per_unit_by_sku={"A": 0.7, "Z": 9.0}),
               CostTerm(location="nowhere", term="margin", fixed=100.0),
               CostTerm(location="loc-004", term="margin", per_unit=0.1,
                        per_unit_by_sku={"A": 0.05}),
               CostTerm(location="loc-010", term="carbon", per_unit=0.02)]
    priced = PricedCandidates(candidates, [table, margins], ["A", "B"])
    by_location: dict[str, list[CostTerm]] = defaultdict(list)
    for t in [*terms_one_by_one(CARRIERS, candidates, request), *margins]:
        by_location[t.location].append(t)
    expected = [price_one_by_one(c, by_location[c.code], ["A", "B"]) for c in candidates]
    assert priced.get("loc-004") == expected[4]
    assert priced.get("nowhere") is None
    assert priced.position("loc-010") == 10
    assert list(priced) == expected
    assert priced[-1] == expected[-1]
    assert priced[2:4] == tuple(expected[2:4])
    with pytest.raises(IndexError):
        priced[40]
    arrays = priced.arrays(["A", "B"])
    assert arrays.fixed.tolist() == [c.fixed_cost for c in expected]
    assert arrays.unit.tolist() == [[c.unit_cost["A"], c.unit_cost["B"]] for c in expected]
    assert arrays.available.tolist() == [[c.available.get("A", 0), c.available.get("B", 0)]
                                         for c in expected]
    # Columns in another order are read from the priced candidates.
    assert priced.arrays(["B", "A"]).unit.tolist() == [
        [c.unit_cost["B"], c.unit_cost["A"]] for c in expected]


def test_a_table_for_other_candidates_is_read_term_by_term() -> None:
    request = routing_request({"A": 1}, country="IT")
    candidates = network(10, request)
    table = CoreRulesPlugin().omskit_routing_cost_terms(request, candidates, CARRIERS)
    # The same candidates in another list: the table is not the engine's, so it is iterated.
    priced = PricedCandidates(list(reversed(candidates)), [table], ["A"])
    by_location: dict[str, list[CostTerm]] = defaultdict(list)
    for t in terms_one_by_one(CARRIERS, candidates, request):
        by_location[t.location].append(t)
    assert list(priced) == [price_one_by_one(c, by_location[c.code], ["A"])
                            for c in reversed(candidates)]


def test_a_pickup_request_has_handling_only() -> None:
    request = routing_request({"A": 1}, pickup_at="loc-001")
    candidates = network(5, request)
    table = CoreRulesPlugin().omskit_routing_cost_terms(request, candidates, CARRIERS)
    assert {t.term for t in table} <= {"handling"}
    assert list(table) == [CostTerm(location=c.code, term="handling",
                                    per_unit=float(c.location.handling_cost))
                           for c in candidates if c.location.handling_cost]

