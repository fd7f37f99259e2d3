"""Conformance kits for routing contributions: strategies, and rules with cost terms.

Subclass one in a plugin's tests and provide its fixtures; every test then checks the
contract the routing engine relies on, over inputs that Hypothesis generates (random
demand, candidates and stock), so a strategy or rule that works on its author's three
examples but breaks on the fourth fails here rather than in production.
"""

from __future__ import annotations

import copy
import math
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from omskit import (
    Candidate,
    CostTerm,
    Exclusion,
    Holdback,
    LocationKind,
    Oms,
    RoutingPlan,
    RoutingRequest,
    RoutingStrategy,
    bootstrap,
)
from omskit.testing.builders import candidate, location, order_command, routing_request

#: SKUs the generated requests ask for and candidates stock.
SKUS = ("SKU-A", "SKU-B", "SKU-C")
#: (code, lat, lon, kind) of the locations candidates are drawn from: Italian cities.
SITES = (
    ("dc-milano", 45.46, 9.19, LocationKind.DISTRIBUTION_CENTRE),
    ("dc-roma", 41.90, 12.50, LocationKind.DISTRIBUTION_CENTRE),
    ("store-torino", 45.07, 7.69, LocationKind.STORE),
    ("store-napoli", 40.85, 14.27, LocationKind.STORE),
    ("3pl-bari", 41.12, 16.87, LocationKind.THIRD_PARTY_LOGISTICS),
    ("supplier-prato", 43.88, 11.10, LocationKind.SUPPLIER),
)
# Example counts come from the Hypothesis profile in force (a plugin's conftest may load a
# thorough one for nightly runs); the fixtures used are pure, so sharing them is safe.
_SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                           HealthCheck.too_slow])


@st.composite
def routing_inputs(draw: st.DrawFn) -> tuple[RoutingRequest, list[Candidate]]:
    """A request of 1–3 SKUs (1–6 units each) to an Italian city, segment and channel
    drawn too, and 0–6 candidate locations with 0–6 units of each SKU, some priced."""
    skus = draw(st.lists(st.sampled_from(SKUS), min_size=1, max_size=3, unique=True))
    demand = {sku: draw(st.integers(1, 6)) for sku in skus}
    city = draw(st.sampled_from(SITES))
    request = routing_request(
        demand, lat=city[1] + draw(st.floats(-0.5, 0.5)), lon=city[2],
        segment=draw(st.sampled_from(("standard", "gold", "b2b"))),
        channel=draw(st.sampled_from(("web", "mobile", "marketplace"))))
    chosen = draw(st.lists(st.sampled_from(SITES), max_size=len(SITES), unique=True))
    candidates = [
        candidate(code, lat, lon,
                  {sku: draw(st.integers(0, 6)) for sku in SKUS if draw(st.booleans())},
                  to=request, kind=kind,
                  fixed_cost=draw(st.sampled_from((0.0, 4.5, 9.0))),
                  unit_cost={sku: draw(st.sampled_from((0.0, 0.5, 2.0))) for sku in SKUS})
        for code, lat, lon, kind in chosen]
    return request, candidates


def _only(oms: Oms, plugin: object, hook: str) -> Callable[..., list[Any]]:
    """Call ``hook`` on ``plugin`` alone, as pluggy would (arguments by name)."""
    pm = oms.plugin_manager
    others = [p for p in pm.get_plugins() if p is not plugin]
    return pm.subset_hook_caller(hook, remove_plugins=others)


class RoutingStrategyConformance:
    """Tests every routing strategy must pass. Provide the fixtures ``strategy_plugin`` (the
    plugin object that registers it through ``omskit_register_routing_strategies``) and
    ``strategy_code``.

    The contract (``omskit.RoutingStrategy``): ``plan`` is pure, allocates only candidates'
    locations and never more than a candidate's ``available`` per SKU, and accounts for
    every unit of demand exactly once (allocated or backordered).
    """

    @pytest.fixture
    def strategy_oms(self, strategy_plugin: object, strategy_code: str) -> Iterator[Oms]:
        oms = bootstrap("sqlite://", plugins=[strategy_plugin], load_entrypoints=False,
                        routing_strategy=strategy_code)
        yield oms
        oms.close()

    @pytest.fixture
    def strategy(self, strategy_oms: Oms, strategy_code: str) -> RoutingStrategy:
        return strategy_oms.routing_strategy(strategy_code)

    def test_strategy_is_registered_under_its_code(self, strategy: RoutingStrategy,
                                                    strategy_code: str) -> None:
        assert strategy.code == strategy_code

    @_SETTINGS
    @given(inputs=routing_inputs())
    def test_plan_keeps_the_contract(self, strategy: RoutingStrategy, strategy_code: str,
                                     inputs: tuple[RoutingRequest, list[Candidate]]) -> None:
        request, candidates = inputs
        before = copy.deepcopy((request, candidates))
        plan = strategy.plan(request, candidates)
        assert (request, candidates) == before, "plan() changed its arguments"
        check_plan(plan, request, candidates)
        assert plan.strategy == strategy_code
        assert strategy.plan(request, candidates) == plan, "plan() is not deterministic"

    def test_no_candidate_backorders_everything(self, strategy: RoutingStrategy) -> None:
        request = routing_request({"SKU-A": 2, "SKU-B": 1})
        plan = strategy.plan(request, [])
        assert plan.allocations == ()
        assert sorted((b.line_id, b.quantity) for b in plan.backordered) == [("1", 2),
                                                                             ("2", 1)]

    def test_one_location_with_everything_fills_the_order(self,
                                                          strategy: RoutingStrategy) -> None:
        request = routing_request({"SKU-A": 2, "SKU-B": 1})
        only = candidate("dc-milano", 45.46, 9.19, {"SKU-A": 5, "SKU-B": 5}, to=request)
        plan = strategy.plan(request, [only])
        check_plan(plan, request, [only])
        assert plan.backordered == ()

    def test_an_order_is_placed_and_reserved_with_it(self, make_oms: Callable[..., Oms],
                                                     strategy_plugin: object,
                                                     strategy_code: str) -> None:
        oms = make_oms(plugins=[strategy_plugin], routing_strategy=strategy_code)
        oms.inventory.save_location(location("dc-milano", 45.46, 9.19))
        oms.inventory.save_location(location("dc-roma", 41.90, 12.50))
        oms.inventory.receive("dc-milano", "SKU-A", 3)
        oms.inventory.receive("dc-roma", "SKU-A", 3)
        placed = oms.orders.place(order_command("CONF-1", {"SKU-A": 4}))
        reserved = sum(x.quantity for fo in placed.fulfillment_orders for x in fo.lines)
        backordered = sum(b.quantity for b in placed.backordered())
        assert reserved + backordered == 4
        assert reserved == 4, "stock for the whole order was there"
        decision = oms.orders.explain(placed.id)[0]
        assert decision.strategy == strategy_code


def check_plan(plan: RoutingPlan, request: RoutingRequest,
               candidates: Sequence[Candidate]) -> None:
    """Assert ``plan`` keeps the strategy contract for ``request`` and ``candidates``."""
    assert isinstance(plan, RoutingPlan), f"plan() returned {type(plan).__name__}"
    by_code = {c.code: c for c in candidates}
    demand = {d.line_id: d for d in request.demand}
    taken: dict[tuple[str, str], int] = defaultdict(int)
    served: dict[str, int] = defaultdict(int)
    for a in plan.allocations:
        assert a.location in by_code, f"allocated from {a.location}, not a candidate"
        assert a.line_id in demand, f"allocated line {a.line_id}, not in the demand"
        assert a.sku == demand[a.line_id].sku, f"line {a.line_id} allocated as {a.sku}"
        assert a.quantity > 0, f"allocation of {a.quantity} units"
        taken[a.location, a.sku] += a.quantity
        served[a.line_id] += a.quantity
    for (code, sku), units in taken.items():
        assert units <= by_code[code].available.get(sku, 0), (
            f"{units} × {sku} from {code}, which has {by_code[code].available.get(sku, 0)}")
    for b in plan.backordered:
        assert b.line_id in demand, f"backordered line {b.line_id}, not in the demand"
        assert b.quantity > 0, f"backorder of {b.quantity} units"
        served[b.line_id] += b.quantity
    for line_id, d in demand.items():
        assert served[line_id] == d.quantity, (
            f"line {line_id}: {served[line_id]} units allocated or backordered of "
            f"{d.quantity}")


class RoutingRulesConformance:
    """Tests every plugin implementing ``omskit_routing_rules`` and/or
    ``omskit_routing_cost_terms`` must pass. Provide the fixtures ``rules_plugin`` (the plugin
    object) and ``rules_settings`` (a list of settings dicts, as ``bootstrap`` takes them, that
    configure the plugin; include your fullest example).

    The contract: verdicts name only the candidates given, with a rule name and a reason; a
    holdback keeps back at least one unit; cost terms price only the candidates given, with
    finite figures; answers depend only on the arguments; nothing is changed in place.
    """

    @pytest.fixture
    def rules_instances(self, rules_plugin: object,
                        rules_settings: list[Mapping[str, Any]]) -> Iterator[list[Oms]]:
        assert rules_settings, "the kit needs at least one settings dict"
        made = [bootstrap("sqlite://", plugins=[rules_plugin], load_entrypoints=False,
                          settings=s) for s in rules_settings]
        yield made
        for oms in made:
            oms.close()

    def test_the_plugin_implements_a_routing_hook(self, rules_plugin: object) -> None:
        assert (hasattr(rules_plugin, "omskit_routing_rules")
                or hasattr(rules_plugin, "omskit_routing_cost_terms")), (
            "the plugin implements neither omskit_routing_rules nor omskit_routing_cost_terms")

    @_SETTINGS
    @given(inputs=routing_inputs(), pick=st.integers(0, 1_000))
    def test_verdicts_keep_the_contract(self, rules_plugin: object,
                                        rules_settings: list[Mapping[str, Any]],
                                        rules_instances: list[Oms], pick: int,
                                        inputs: tuple[RoutingRequest, list[Candidate]]) -> None:
        request, candidates = inputs
        index = pick % len(rules_instances)
        oms, configured = rules_instances[index], rules_settings[index]
        codes = {c.code for c in candidates}
        before = copy.deepcopy((request, candidates))
        rules = _only(oms, rules_plugin, "omskit_routing_rules")
        found = rules(request=request, candidates=candidates, settings=configured)
        verdicts = [v for answer in found for v in (answer or ())]
        for v in verdicts:
            assert isinstance(v, Exclusion | Holdback), f"a verdict of type {type(v).__name__}"
            assert v.rule, f"{v!r} names no rule"
            assert v.reason, f"{v!r} gives no reason"
            if isinstance(v, Exclusion):
                assert v.location in codes, f"excluded {v.location}, not a candidate"
            else:
                assert v.quantity >= 1, f"{v!r} holds back nothing"
                assert v.location is None or v.location in codes, (
                    f"held back at {v.location}, not a candidate")
        again = rules(request=request, candidates=candidates, settings=configured)
        assert [v for answer in again for v in (answer or ())] == verdicts, (
            "the rules answered differently for the same arguments")
        terms_hook = _only(oms, rules_plugin, "omskit_routing_cost_terms")
        answers = terms_hook(request=request, candidates=candidates, carriers=[],
                             settings=configured)
        for term in (t for answer in answers for t in (answer or ())):
            assert isinstance(term, CostTerm), f"a cost term of type {type(term).__name__}"
            assert term.location in codes, f"priced {term.location}, not a candidate"
            figures = [term.fixed, term.per_unit, *term.per_unit_by_sku.values()]
            assert all(math.isfinite(x) for x in figures), f"{term!r} is not finite"
            assert term.transit_days is None or term.transit_days >= 0
        assert (request, candidates) == before, "the hooks changed their arguments"

    def test_orders_place_under_every_settings(self, make_oms: Callable[..., Oms],
                                               rules_plugin: object,
                                               rules_settings: list[Mapping[str, Any]]
                                               ) -> None:
        for i, configured in enumerate(rules_settings):
            oms = make_oms(plugins=[rules_plugin], settings=configured,
                           table_prefix=f"k{i}_")
            oms.inventory.save_location(location("dc-milano", 45.46, 9.19, country="IT"))
            oms.inventory.receive("dc-milano", "SKU-A", 5)
            placed = oms.orders.place(order_command(f"RULES-{i}", {"SKU-A": 2}))
            reserved = sum(x.quantity for fo in placed.fulfillment_orders for x in fo.lines)
            assert reserved + sum(b.quantity for b in placed.backordered()) == 2
            assert oms.orders.explain(placed.id), "no routing decision was stored"
