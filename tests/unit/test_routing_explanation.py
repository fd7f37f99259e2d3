"""The compact explanation (decision 48) renders exactly the explanation the engine built in
full before, in memory and read back from the database; a payload stored in full before
reads back as it always did."""

from __future__ import annotations

import heapq
import json
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import attrs
import numpy as np
import pytest
import sqlalchemy as sa

from omskit import Oms, hookimpl
from omskit.domain.carriers import RateTableCarrier
from omskit.domain.inventory import Capability
from omskit.domain.routing import (
    Candidate,
    CandidateExplanation,
    CostTerm,
    Exclusion,
    Holdback,
    RoutingDecision,
    RoutingPolicy,
    RoutingRequest,
)
from omskit.ports import Carrier
from omskit.routing.engine import EXCLUDED_NAMED, Decision, destination_notes
from omskit.routing.explanation import ROWS_KEY, ExplanationRecord, read_payload
from omskit.serialization import make_converter
from omskit.testing import candidate, routing_request

_AT = datetime(2026, 12, 4, 10, tzinfo=UTC)

# -- the explanation as the engine built it in full before decision 48 (the oracle) ----------


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _describe(term: CostTerm) -> str:
    parts = []
    if term.fixed:
        parts.append(f"{term.fixed:.2f} per shipment")
    if term.per_unit:
        parts.append(f"{term.per_unit:.2f} per unit")
    for sku, extra in sorted(term.per_unit_by_sku.items()):
        parts.append(f"{extra:.2f} per unit of {sku}")
    text = ", ".join(parts) or "0"
    return f"{text} ({term.note})" if term.note else text


def full_explanation(oms: Oms, request: RoutingRequest, raw: Sequence[Candidate],
                     decision: Decision, limit: int) -> RoutingDecision:
    """What ``RoutingEngine._explain`` returned before the compact form (its code, as it
    was), with the id and elapsed time of ``decision``'s own explanation."""
    engine = oms.router
    request = engine.with_policy(request)
    need = request.units()
    screened = engine._screen(request, raw, sorted(need))
    priced, plan, cost = decision.candidates, decision.plan, decision.cost
    excluded, holdbacks = screened.excluded, screened.holdbacks
    used = set(plan.locations())
    penalty = request.policy.backorder_penalty
    skus = sorted(need)
    arrays = priced.arrays(skus)
    demand = np.array([need[s] for s in skus], dtype=float)
    take_all = np.minimum(arrays.available, demand)
    costs = (arrays.fixed + (take_all * arrays.unit).sum(axis=1)
             + ((demand - take_all) * penalty).sum(axis=1)).tolist()
    count = min(len(priced), limit + len(used))
    top = heapq.nsmallest(count, range(len(costs)), key=costs.__getitem__)
    codes = priced.codes
    best = sorted((float(costs[i]), codes[i], i) for i in top)
    best_codes = {code for _, code, _ in best}
    places = [priced.position(code) for code in used if code not in best_codes]
    outside = [(float(costs[k]), codes[k], k)
               for k in sorted(k for k in places if k is not None)]
    rows: list[CandidateExplanation] = []
    shown = 0
    for rank, (standalone, code, k) in enumerate([*best, *outside], start=1):
        if code not in used:
            if shown >= limit:
                continue
            shown += 1
        c = priced[k]
        reasons = tuple(f"{t.term}: {_describe(t)}" for t in c.terms)
        rows.append(CandidateExplanation(
            location=c.code, status="chosen" if c.code in used else "considered",
            distance_km=_round(c.distance_km),
            available={s: c.available.get(s, 0) for s in need},
            fixed_cost=round(c.fixed_cost, 4),
            unit_cost={s: round(v, 4) for s, v in c.unit_cost.items()},
            standalone_cost=round(standalone, 4),
            reasons=(f"rank {rank} of {len(priced)} by standalone cost"
                     if rank <= len(best) else
                     f"ranked below the best {len(best)} by standalone cost", *reasons)))
    counts: dict[str, int] = defaultdict(int)
    by_code = screened.excluded_raw
    named = 0
    for code in sorted(excluded):
        for verdict in excluded[code]:
            counts[verdict.rule] += 1
        if named < EXCLUDED_NAMED:
            named += 1
            raw_candidate = by_code.get(code)
            rows.append(CandidateExplanation(
                location=code, status="excluded",
                distance_km=_round(raw_candidate.distance_km) if raw_candidate else None,
                available=({s: raw_candidate.available.get(s, 0) for s in need}
                           if raw_candidate else {}),
                reasons=tuple(f"{v.rule}: {v.reason}" for v in excluded[code])))
    mine = decision.record.head
    return RoutingDecision(
        id=mine.id, order_id=request.order_id, decided_at=mine.decided_at,
        strategy=plan.strategy, solver=plan.solver, elapsed_ms=mine.elapsed_ms,
        demand=request.demand, destination=request.destination, segment=request.segment,
        channel=request.channel, policy=request.policy, allocations=plan.allocations,
        backordered=plan.backordered, cost=cost, candidates=tuple(rows),
        candidates_total=len(raw), excluded_counts=dict(counts),
        holdbacks=tuple(holdbacks), notes=(*destination_notes(request), *plan.notes),
        round=decision.record.head.round)


# -- plugins that exercise every kind of row ---------------------------------------------------


class Carriers:
    @hookimpl
    def omskit_register_carriers(self, register: Callable[[Carrier], None]) -> None:
        register(RateTableCarrier(code="post", base=5.0, per_km=0.01, per_unit=0.5))
        register(RateTableCarrier(code="courier", base=7.0, per_km=0.004, per_unit=0.25,
                                  countries=frozenset({"IT"})))


class Margins:
    """Terms as a plain list: SKU-specific prices, a note, an integer, one for no candidate."""

    @hookimpl
    def omskit_routing_cost_terms(self, request: RoutingRequest,
                                  candidates: Sequence[Candidate],
                                  carriers: Sequence[Carrier]) -> Iterable[CostTerm]:
        found = [CostTerm(location="nowhere", term="margin", fixed=1.0)]
        for k, c in enumerate(candidates):
            if k % 3 == 0:
                found.append(CostTerm(location=c.code, term="margin",
                                      per_unit_by_sku={"B": 0.125 * k, "Z": 2.0}))
            elif k % 3 == 1:
                found.append(CostTerm(location=c.code, term="pick", fixed=k, note="waves"))
        return found


class Rules:
    """Excludes every fifth location (two verdicts for every tenth); holds one unit of A."""

    @hookimpl
    def omskit_routing_rules(self, request: RoutingRequest, candidates: Sequence[Candidate],
                             settings: Mapping[str, Any]) -> Iterable[Exclusion | Holdback]:
        for k, c in enumerate(candidates):
            if k % 5 == 0:
                yield Exclusion(location=c.code, rule="blocked", reason=f"number {k}")
            if k % 10 == 0:
                yield Exclusion(location=c.code, rule="audit", reason="second verdict")
        yield Exclusion(location="not-a-candidate", rule="blocked", reason="unknown")
        yield Holdback(rule="keep", reason="one A kept", quantity=1, sku="A")


def network(n: int, request: RoutingRequest, seed: int) -> list[Candidate]:
    rng = random.Random(seed)
    found = []
    for k in range(n):
        caps = (Capability.SHIP,) if k % 11 else (Capability.PICKUP,)
        c = candidate(f"loc-{k:03d}", 40 + rng.uniform(0, 8), 6 + rng.uniform(0, 10),
                      {s: rng.randint(0, 4) for s in ("A", "B", "C") if rng.random() < 0.8},
                      to=request, capabilities=caps,
                      capacity_left=0 if k % 13 == 4 else None)
        where = attrs.evolve(c.location, handling_cost=Decimal(rng.choice(["0", "0.35", "2"])),
                             active=k % 17 != 3)
        distance = c.distance_km if k % 7 else (None if k % 2 else 0)
        found.append(attrs.evolve(c, location=where, distance_km=distance))
    return found


CASES = [(n, seed, plugins) for n in (0, 3, 40, 180) for seed in (1, 2)
         for plugins in ("builtin", "all")]


@pytest.mark.parametrize(("n", "seed", "plugins"), CASES)
def test_the_compact_explanation_renders_the_full_one(
        make_oms: Callable[..., Oms], n: int, seed: int, plugins: str) -> None:
    extra = [Margins(), Rules()] if plugins == "all" else []
    oms = make_oms(routing_strategy="optimal", plugins=[Carriers(), *extra],
                   settings={"routing": {"backorder_penalty": 40.0, "split_penalty": 3.0,
                                         "explain_limit": 4}})
    rng = random.Random(seed)
    demand = {s: rng.randint(1, 5) for s in ("C", "A", "B") if rng.random() < 0.9} or {"A": 1}
    request = routing_request(demand, country=rng.choice(["IT", "FR", None]),
                              lat=None if seed == 2 and n == 3 else 45.4642)
    raw = network(n, request, seed)
    for strategy in ("optimal", "nearest"):
        decision = oms.router.decide(request, raw, strategy, at=_AT)
        expected = full_explanation(oms, request, raw, decision, limit=4)
        assert decision.explanation == expected
        # Read back from the database: the same explanation.
        payload = json.loads(json.dumps(decision.record.payload(make_converter())))
        assert ROWS_KEY in payload
        assert "candidates" not in payload
        assert read_payload(make_converter(), payload) == expected
        if n >= 40:  # every kind of row is there
            assert any(r.status == "excluded" for r in expected.candidates)
            assert any(r.status == "chosen" for r in expected.candidates)
            assert len([r for r in expected.candidates if r.status == "considered"]) == 4


def test_a_payload_stored_in_full_reads_back_as_before(make_oms: Callable[..., Oms]) -> None:
    """A row written before the compact form (the full explanation, unstructured) reads back
    identically, next to a compact row of the same order."""
    oms = make_oms(routing_strategy="optimal", plugins=[Carriers(), Margins(), Rules()],
                   settings={"routing": {"backorder_penalty": 40.0}})
    request = routing_request({"A": 2, "B": 3})
    raw = network(60, request, 5)
    decision = oms.router.decide(request, raw, "optimal", at=_AT)
    full = decision.explanation
    converter = make_converter()
    old_payload = json.loads(json.dumps(converter.unstructure(full)))
    assert ROWS_KEY not in old_payload
    assert read_payload(converter, old_payload) == full
    # Through the store: an old row inserted as it was written then, and a compact one.
    with oms._db.uow() as uow:
        t = oms._db.tables.routing_decisions
        uow.connection.execute(sa.insert(t).values(
            id="old-1", order_id=request.order_id, decided_at=_AT, strategy="optimal",
            solver=full.solver, cost=full.cost.total,
            payload={**old_payload, "id": "old-1"}))
        uow.routing.add_decision(decision.record)
        older, newer = uow.routing.decisions(request.order_id)
    assert older == attrs.evolve(full, id="old-1")
    assert newer == full
    assert isinstance(decision.record, ExplanationRecord)


def test_a_term_json_would_change_is_stored_as_its_text(make_oms: Callable[..., Oms]) -> None:
    """A price that is not a plain float (a NumPy scalar) is kept as the text the full
    explanation shows, so the stored document never depends on how JSON writes it."""

    class Odd:
        @hookimpl
        def omskit_routing_cost_terms(self, request: RoutingRequest,
                                      candidates: Sequence[Candidate],
                                      carriers: Sequence[Carrier]) -> Iterable[CostTerm]:
            return [CostTerm(location=c.code, term="odd", per_unit=np.float64(1.5),
                             note="never") for c in candidates[:1]]

    oms = make_oms(routing_strategy="optimal", plugins=[Carriers(), Odd()])
    request = routing_request({"A": 1})
    raw = network(8, request, 3)
    decision = oms.router.decide(request, raw, "optimal", at=_AT)
    assert decision.explanation == full_explanation(oms, request, raw, decision, limit=10)
    texts = [t for row in decision.record.rows["shown"] for t in row[-1] if isinstance(t, str)]
    assert texts == ["odd: 1.50 per unit (never)"]


def test_policy_is_kept(make_oms: Callable[..., Oms]) -> None:
    oms = make_oms(routing_strategy="optimal", plugins=[Carriers()],
                   settings={"routing": {"max_shipments": 1}})
    request = routing_request({"A": 1})
    decision = oms.router.decide(request, network(5, request, 1), "optimal", at=_AT)
    assert decision.explanation.policy == RoutingPolicy(max_shipments=1)
