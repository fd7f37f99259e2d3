"""Each rule function on hand-made candidates: no database, no ``Oms``."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

import attrs
import pytest
from omskit import (
    Candidate,
    Capability,
    CostTerm,
    DeliveryKind,
    DeliveryMethod,
    Exclusion,
    Holdback,
    LineQuantity,
    LocationKind,
    RateTableCarrier,
    RoutingPolicy,
    RoutingRequest,
)

import omskit_routing_rules
from omskit_routing_rules import rules
from omskit_routing_rules.settings import RulesConfig, parse_settings
from routing_rules_helpers import FULL_EXAMPLE, MILAN, coordinates, site


def config(**routing_rules: Any) -> RulesConfig:
    """The parsed config of ``settings={"routing_rules": routing_rules}`` (must be valid)."""
    problems: list[str] = []
    parsed = parse_settings({"routing_rules": routing_rules}, problems)
    assert problems == []
    assert parsed is not None
    return parsed


def request(*, channel: str = "web", segment: str = "standard", country: str | None = "IT",
            pickup_at: str | None = None) -> RoutingRequest:
    """A request for 2 × SKU-1 to Milan (or collected at ``pickup_at``)."""
    delivery = (DeliveryMethod(kind=DeliveryKind.PICKUP, pickup_location=pickup_at)
                if pickup_at else DeliveryMethod())
    return RoutingRequest(order_id="o-1", channel=channel, segment=segment,
                          demand=(LineQuantity(line_id="1", sku="SKU-1", quantity=2),),
                          delivery=delivery, destination=coordinates(MILAN),
                          destination_country=country)


def candidate(code: str, *, kind: LocationKind = LocationKind.WAREHOUSE,
              capabilities: Iterable[Capability] = (Capability.SHIP,),
              groups: Iterable[str] = (), distance_km: float | None = 10.0) -> Candidate:
    """A candidate with 5 × SKU-1 at ``distance_km``."""
    return Candidate(location=site(code, MILAN, kind=kind, capabilities=capabilities,
                                   groups=groups),
                     available={"SKU-1": 5}, distance_km=distance_km)


def excluded(verdicts: Iterable[Exclusion | Holdback]) -> dict[str, list[str]]:
    """Location → ``"rule: reason"`` of each exclusion."""
    found: dict[str, list[str]] = {}
    for v in verdicts:
        assert isinstance(v, Exclusion)
        found.setdefault(v.location, []).append(f"{v.rule}: {v.reason}")
    return found


# -- ship_from_store ----------------------------------------------------------------------------


def test_ship_from_store_excludes_only_stores_without_the_capability() -> None:
    candidates = [
        candidate("dc", capabilities=[Capability.SHIP]),
        candidate("store-ship", kind=LocationKind.STORE, capabilities=[Capability.SHIP]),
        candidate("store-sfs", kind=LocationKind.STORE,
                  capabilities=[Capability.SHIP_FROM_STORE, Capability.PICKUP]),
        candidate("supplier", kind=LocationKind.SUPPLIER, capabilities=[Capability.SHIP]),
    ]
    found = excluded(rules.ship_from_store(request(), candidates, config()))
    assert found == {"store-ship": ["ship_from_store: store without ship-from-store"]}


def test_ship_from_store_can_be_disabled_and_ignores_pickups() -> None:
    store = [candidate("store", kind=LocationKind.STORE, capabilities=[Capability.PICKUP])]
    off = config(ship_from_store={"enabled": False})
    assert list(rules.ship_from_store(request(), store, off)) == []
    assert list(rules.ship_from_store(request(pickup_at="store"), store, config())) == []


# -- channel_groups -----------------------------------------------------------------------------


def test_channel_groups_exclude_locations_in_none_of_the_groups() -> None:
    cfg = config(channel_groups={"marketplace": ["eu-dcs", "partners"]})
    candidates = [candidate("a", groups=["eu-dcs"]), candidate("b", groups=["partners", "x"]),
                  candidate("c", groups=["stores"]), candidate("d")]

    found = excluded(rules.channel_groups(request(channel="marketplace"), candidates, cfg))

    reason = ("channel_groups: not in a group allowed for channel marketplace "
              "(eu-dcs, partners)")
    assert found == {"c": [reason], "d": [reason]}
    assert list(rules.channel_groups(request(channel="web"), candidates, cfg)) == []


# -- zones --------------------------------------------------------------------------------------


ZONED: dict[str, Any] = {
    "zones": {"EU": ["IT", "FR"]},
    "ship_to": {"group:eu": ["EU"], "group:ch": ["CH"], "us-1": ["US"]},
}


@pytest.mark.parametrize(("country", "expected"), [
    ("IT", {"swiss": ["zones: does not ship to IT"], "us-1": ["zones: does not ship to IT"]}),
    ("CH", {"eu": ["zones: does not ship to CH"], "us-1": ["zones: does not ship to CH"]}),
    ("US", {"eu": ["zones: does not ship to US"], "swiss": ["zones: does not ship to US"],
            "both": ["zones: does not ship to US"]}),
    (None, {c: ["zones: destination country unknown"]
            for c in ("eu", "swiss", "both", "us-1")}),
])
def test_zones(country: str | None, expected: dict[str, list[str]]) -> None:
    candidates = [candidate("eu", groups=["eu"]), candidate("swiss", groups=["ch"]),
                  candidate("both", groups=["eu", "ch"]),  # groups add up
                  candidate("us-1", groups=["eu"]),  # own entry wins over the group
                  candidate("free", groups=["other"])]
    found = excluded(rules.zones(request(country=country), candidates, config(**ZONED)))
    assert found == expected


def test_zones_do_not_restrict_pickups_or_unconfigured_deployments() -> None:
    candidates = [candidate("eu", groups=["eu"])]
    assert list(rules.zones(request(country="US", pickup_at="eu"), candidates,
                            config(**ZONED))) == []
    assert list(rules.zones(request(country="US"), candidates,
                            config(zones={"EU": ["IT"]}))) == []


# -- segments -----------------------------------------------------------------------------------


def test_store_segments() -> None:
    cfg = config(store_segments=["gold", "silver"])
    candidates = [candidate("store", kind=LocationKind.STORE,
                            capabilities=[Capability.SHIP_FROM_STORE]), candidate("dc")]

    assert list(rules.store_segments(request(segment="gold"), candidates, cfg)) == []
    assert excluded(rules.store_segments(request(segment="standard"), candidates, cfg)) == {
        "store": ["store_segments: segment standard is not served from stores "
                  "(only gold, silver)"]}
    assert list(rules.store_segments(request(pickup_at="store"), candidates, cfg)) == []
    # An empty list keeps every segment off the stores.
    assert excluded(rules.store_segments(request(segment="gold"), candidates,
                                         config(store_segments=[]))) == {
        "store": ["store_segments: segment gold is not served from stores (only none)"]}


@pytest.mark.parametrize(("segment", "units"), [
    ("gold", 0), ("standard", 2), ("silver", 1),  # "*" covers unlisted segments
])
def test_segment_priority_holds_back_the_protected_units(segment: str, units: int) -> None:
    cfg = config(protected_units={"gold": 0, "standard": 2, "*": 1})
    found = list(rules.segment_priority(request(segment=segment), cfg))
    if units == 0:
        assert found == []
    else:
        last = "the last unit of each SKU at each location is" if units == 1 \
            else f"the last {units} units of each SKU at each location are"
        assert found == [Holdback(rule="segment_priority", quantity=units,
                                  reason=f"{last} kept from segment {segment}")]


def test_no_holdback_without_a_default_for_unlisted_segments() -> None:
    cfg = config(protected_units={"standard": 2})
    assert list(rules.segment_priority(request(segment="silver"), cfg)) == []


# -- max_shipments ------------------------------------------------------------------------------


@pytest.mark.parametrize(("channel", "segment", "limit"), [
    ("web", "standard", None), ("web", "gold", 1), ("marketplace", "standard", 2),
    ("marketplace", "gold", 1), ("b2b", "silver", 3),
])
def test_max_shipments(channel: str, segment: str, limit: int | None) -> None:
    cfg = config(max_shipments={"segment": {"gold": 1, "silver": 4},
                                "channel": {"marketplace": 2, "b2b": 3}})
    req = request(channel=channel, segment=segment)
    assert rules.max_shipments(req, cfg) == limit

    default = RoutingPolicy(max_shipments=5, split_penalty=3.0)
    answer = omskit_routing_rules.omskit_routing_policy(
        req, {"routing_rules": {"max_shipments": {"segment": {"gold": 1, "silver": 4},
                                                  "channel": {"marketplace": 2, "b2b": 3}}}},
        default)
    # None lets the core's default stand; otherwise only max_shipments changes.
    assert answer == (None if limit is None else attrs.evolve(default, max_shipments=limit))


# -- distance_shipping --------------------------------------------------------------------------


def test_distance_shipping_prices_like_a_rate_table_carrier() -> None:
    cfg = config(distance_shipping={"base": 4.0, "per_km": 0.01, "per_unit": 0.2,
                                    "km_per_day": 600})
    candidates = [candidate("near", distance_km=50.0), candidate("far", distance_km=1300.0),
                  candidate("edge", distance_km=600.0), candidate("unknown", distance_km=None)]

    terms = {t.location: t for t in rules.distance_shipping(request(), candidates, (), cfg)}

    assert terms["near"] == CostTerm(location="near", term="shipping", fixed=4.5, per_unit=0.2,
                                     note="50 km", transit_days=1)
    assert terms["far"].fixed == pytest.approx(17.0)
    assert terms["far"].transit_days == 3  # 1 + ceil(1300 / 600) - 1
    assert terms["edge"].transit_days == 1
    assert terms["unknown"] == CostTerm(location="unknown", term="shipping", fixed=4.0,
                                        per_unit=0.2, note="distance unknown, base price",
                                        transit_days=1)
    # The core's own carrier gives the same numbers for the same lane.
    card = RateTableCarrier(code="x", base=4.0, per_km=0.01, per_unit=0.2, km_per_day=600)
    rate = card.rate(candidates[1].location, None, 1300.0, None)
    assert rate is not None
    assert (rate.fixed, rate.transit_days) == (terms["far"].fixed, terms["far"].transit_days)


def test_distance_shipping_steps_aside() -> None:
    cfg = config(distance_shipping={"base": 4.0})
    candidates = [candidate("a")]
    carrier = RateTableCarrier(code="courier", base=7.0, per_km=0.0)
    assert list(rules.distance_shipping(request(), candidates, [carrier], cfg)) == []
    assert list(rules.distance_shipping(request(pickup_at="a"), candidates, (), cfg)) == []
    assert list(rules.distance_shipping(request(), candidates, (), config())) == []


# -- the hooks ----------------------------------------------------------------------------------


def test_hooks_do_nothing_without_settings() -> None:
    candidates = [candidate("store", kind=LocationKind.STORE)]
    assert list(omskit_routing_rules.omskit_routing_rules(request(), candidates, {})) == []
    assert list(omskit_routing_rules.omskit_routing_cost_terms(request(), candidates, (),
                                                               {})) == []
    assert omskit_routing_rules.omskit_routing_policy(request(), {}, RoutingPolicy()) is None
    assert omskit_routing_rules.omskit_validate_settings({}) == []


def _network(size: int) -> Sequence[Candidate]:
    kinds = [LocationKind.WAREHOUSE, LocationKind.STORE, LocationKind.DISTRIBUTION_CENTRE]
    groups = ["eu-dcs", "stores", "outlet", "ch-dcs"]
    return [candidate(f"loc-{i}", kind=kinds[i % 3], groups=[groups[i % 4]],
                      capabilities=[Capability.SHIP_FROM_STORE] if i % 2 else [Capability.SHIP],
                      distance_km=float(i))
            for i in range(size)]


def test_two_thousand_candidates_are_judged_quickly() -> None:
    settings = {"routing_rules": FULL_EXAMPLE}
    candidates = _network(2000)
    req = request(channel="marketplace")
    omskit_routing_rules.omskit_routing_rules(req, candidates, settings)  # parse and warm up

    started = time.perf_counter()
    for _ in range(10):
        verdicts = list(omskit_routing_rules.omskit_routing_rules(req, candidates, settings))
        terms = list(omskit_routing_rules.omskit_routing_cost_terms(req, candidates, (),
                                                                    settings))
    per_decision = (time.perf_counter() - started) / 10

    assert len(terms) == 2000
    assert sum(isinstance(v, Exclusion) for v in verdicts) > 1000
    # Linear, set look-ups only: a few milliseconds; the bound is loose for slow CI machines.
    assert per_decision < 0.25
