"""Screening builds availability as one array (a column per SKU): the same eligible
candidates, in the same order, with the same availability and exclusions as the row-by-row
screening it replaced."""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import attrs
import numpy as np
import pytest

from omskit import Oms, hookimpl
from omskit.domain.routing import Candidate, Exclusion, Holdback, RoutingRequest
from omskit.routing.engine import _apply_holdbacks
from omskit.testing import candidate, routing_request


def screen_row_by_row(oms: Oms, request: RoutingRequest, candidates: Sequence[Candidate],
                      skus: Sequence[str]) -> tuple[dict[str, list[Exclusion]],
                                                    list[Candidate], list[list[int]]]:
    """The engine's screening loop as it was before the array form (the oracle)."""
    excluded: dict[str, list[Exclusion]] = defaultdict(list)
    holdbacks: list[Holdback] = []
    for verdict in oms.router._hooks.routing_rules(request, candidates, oms.router.settings):
        if isinstance(verdict, Exclusion):
            excluded[verdict.location].append(verdict)
        else:
            holdbacks.append(verdict)
    eligible: list[Candidate] = []
    rows: list[list[int]] = []
    zeros = [0] * len(skus)
    for c in candidates:
        code = c.location.code
        if code in excluded:
            continue
        left = c.capacity_left
        if left is not None and left <= 0:
            excluded[code].append(Exclusion(
                location=code, rule="capacity",
                reason=f"daily capacity of {c.location.daily_capacity} "
                       "fulfilment orders reached"))
            continue
        if holdbacks:
            c = _apply_holdbacks(c, holdbacks)
        row = [*map(c.available.get, skus, zeros)]
        if row and max(row) > 0:
            eligible.append(c)
            rows.append(row)
    return dict(excluded), eligible, rows


class Rules:
    """Excludes every sixth location; holds two units of B back everywhere (``hold``)."""

    def __init__(self, hold: bool) -> None:
        self.hold = hold

    @hookimpl
    def omskit_routing_rules(self, request: RoutingRequest, candidates: Sequence[Candidate],
                             settings: Mapping[str, Any]) -> Iterable[Exclusion | Holdback]:
        found: list[Exclusion | Holdback] = [
            Exclusion(location=c.code, rule="blocked", reason="sixth")
            for k, c in enumerate(candidates) if k % 6 == 5]
        if self.hold:
            found.append(Holdback(rule="keep", reason="two B kept", quantity=2, sku="B"))
        return found


@pytest.mark.parametrize("hold", [False, True])
@pytest.mark.parametrize("demand", [{"A": 1}, {"B": 2, "A": 1}, {"C": 3, "A": 1, "B": 1}, {}])
def test_screening_matches_the_row_by_row_loop(make_oms: Callable[..., Oms], hold: bool,
                                                demand: dict[str, int]) -> None:
    oms = make_oms(routing_strategy="optimal", plugins=[Rules(hold)])
    request = routing_request(demand or {"A": 1})
    if not demand:
        request = attrs.evolve(request, demand=())
    rng = random.Random(len(demand) * 2 + hold)
    candidates = [
        candidate(f"loc-{k:03d}", 45.0, 9.0,
                  {s: rng.choice([0, 0, 1, 2, 5]) for s in ("A", "B", "C", "Z")
                   if rng.random() < 0.7},
                  capacity_left=rng.choice([None, None, 0, 3]))
        for k in range(120)]
    skus = sorted(request.units())
    excluded, eligible, rows = screen_row_by_row(oms, request, candidates, skus)
    found = oms.router._screen(request, candidates, skus)
    assert found.excluded == excluded
    assert found.eligible == eligible
    assert np.array_equal(found.available, np.array(rows, dtype=float).reshape(
        len(rows), len(skus)))
    assert oms.router.screen(request, candidates).eligible == tuple(eligible)
    if demand:  # the case is not empty: some are eligible, some not
        assert 0 < len(eligible) < len(candidates) - len(excluded)
