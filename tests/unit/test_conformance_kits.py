"""The conformance kits catch what they promise to: plans and verdicts that break the contract."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pytest

from omskit import (
    Candidate,
    Exclusion,
    Holdback,
    LineQuantity,
    RoutedQuantity,
    RoutingPlan,
    RoutingRequest,
    bootstrap,
    hookimpl,
)
from omskit.testing import candidate, check_plan, routing_request
from omskit.testing.routing import _only

REQUEST = routing_request({"SKU-A": 3, "SKU-B": 1})
MILANO = candidate("dc-milano", 45.46, 9.19, {"SKU-A": 2, "SKU-B": 1}, to=REQUEST)


def plan(allocations: Iterable[tuple[str, str, str, int]],
         backordered: Iterable[tuple[str, str, int]] = ()) -> RoutingPlan:
    return RoutingPlan(
        strategy="x",
        allocations=tuple(RoutedQuantity(location=loc, line_id=line, sku=sku, quantity=q)
                          for loc, line, sku, q in allocations),
        backordered=tuple(LineQuantity(line_id=line, sku=sku, quantity=q)
                          for line, sku, q in backordered))


def test_a_plan_that_keeps_the_contract_passes() -> None:
    check_plan(plan([("dc-milano", "1", "SKU-A", 2), ("dc-milano", "2", "SKU-B", 1)],
                    [("1", "SKU-A", 1)]), REQUEST, [MILANO])


@pytest.mark.parametrize(("bad", "message"), [
    (plan([("dc-milano", "1", "SKU-A", 3), ("dc-milano", "2", "SKU-B", 1)]), "which has 2"),
    (plan([("dc-roma", "1", "SKU-A", 2), ("dc-milano", "2", "SKU-B", 1)],
          [("1", "SKU-A", 1)]), "not a candidate"),
    (plan([("dc-milano", "1", "SKU-A", 2)], [("1", "SKU-A", 1)]), "line 2: 0 units"),
    (plan([("dc-milano", "1", "SKU-A", 2), ("dc-milano", "2", "SKU-B", 1)],
          [("1", "SKU-A", 2)]), "line 1: 4 units"),
    (plan([("dc-milano", "1", "SKU-B", 1)], [("1", "SKU-A", 3)]), "allocated as SKU-B"),
    (plan([("dc-milano", "1", "SKU-A", 0), ("dc-milano", "2", "SKU-B", 1)],
          [("1", "SKU-A", 3)]), "allocation of 0 units"),
])
def test_a_plan_that_breaks_the_contract_fails(bad: RoutingPlan, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_plan(bad, REQUEST, [MILANO])


class ExcludesStrangers:
    """A broken rule: it excludes a location that was not among the candidates."""

    @hookimpl
    def omskit_routing_rules(self, request: RoutingRequest, candidates: Sequence[Candidate],
                             settings: Mapping[str, Any]) -> list[Exclusion | Holdback]:
        return [Exclusion(location="dc-nowhere", rule="strangers", reason="never seen")]


def test_only_calls_the_plugin_under_test() -> None:
    plugin = ExcludesStrangers()
    with bootstrap("sqlite://", plugins=[plugin], load_entrypoints=False) as oms:
        answers = _only(oms, plugin, "omskit_routing_rules")(
            request=REQUEST, candidates=[MILANO], settings={})
    assert answers == [[Exclusion(location="dc-nowhere", rule="strangers",
                                  reason="never seen")]]
