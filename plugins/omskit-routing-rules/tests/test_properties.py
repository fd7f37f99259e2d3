"""Properties of the rules over generated settings, networks and requests (no database).

The central one: a rule never excludes a location that the settings do not restrict. What
"restricts" means is stated here from the settings' *shape* only (is the location a store, is
its channel listed, is it named in ``ship_to``), not by re-running the rules' logic.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from omskit import (
    Candidate,
    Capability,
    DeliveryKind,
    DeliveryMethod,
    Exclusion,
    Holdback,
    LineQuantity,
    Location,
    LocationKind,
    RoutingRequest,
)

import omskit_routing_rules
from omskit_routing_rules.settings import GROUP_PREFIX, validate
from routing_rules_helpers import MILAN, coordinates, site

GROUPS = ["eu-dcs", "stores", "outlet", "us-dcs"]
CHANNELS = ["web", "marketplace", "app"]
SEGMENTS = ["gold", "silver", "standard"]
COUNTRIES = ["IT", "FR", "CH", "US"]
CODES = [f"loc-{i}" for i in range(8)]


def _lists(values: list[str], *, min_size: int = 1) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(values), min_size=min_size, max_size=len(values),
                    unique=True)


#: Valid ``routing_rules`` settings: any subset of the rules, each with arbitrary valid values.
rule_settings: st.SearchStrategy[dict[str, Any]] = st.fixed_dictionaries({}, optional={
    "ship_from_store": st.fixed_dictionaries({}, optional={"enabled": st.booleans()}),
    "channel_groups": st.dictionaries(st.sampled_from(CHANNELS), _lists(GROUPS), max_size=3),
    "zones": st.just({"EU": ["IT", "FR"]}),
    "ship_to": st.dictionaries(
        st.sampled_from([*CODES, *(GROUP_PREFIX + g for g in GROUPS)]),
        _lists(["EU", *COUNTRIES]), max_size=5),
    "store_segments": _lists(SEGMENTS, min_size=0),
    "protected_units": st.dictionaries(st.sampled_from([*SEGMENTS, "*"]),
                                       st.integers(0, 5), max_size=4),
    "max_shipments": st.fixed_dictionaries({}, optional={
        "segment": st.dictionaries(st.sampled_from(SEGMENTS), st.integers(1, 4)),
        "channel": st.dictionaries(st.sampled_from(CHANNELS), st.integers(1, 4)),
    }),
    "distance_shipping": st.fixed_dictionaries({}, optional={
        "base": st.floats(0, 20), "per_km": st.floats(0, 1), "per_unit": st.floats(0, 2)}),
})


@st.composite
def locations(draw: st.DrawFn) -> list[Location]:
    """Up to 8 locations of any kind, capabilities and groups."""
    codes = draw(st.lists(st.sampled_from(CODES), max_size=len(CODES), unique=True))
    found = []
    for code in codes:
        kind = draw(st.sampled_from(list(LocationKind)))
        capabilities = draw(st.lists(st.sampled_from(list(Capability)), max_size=3, unique=True))
        groups = draw(_lists(GROUPS, min_size=0))
        found.append(site(code, MILAN, kind=kind, capabilities=capabilities, groups=groups))
    return found


@st.composite
def requests(draw: st.DrawFn) -> RoutingRequest:
    """A request from any channel and segment, shipped to any country (or none) or picked up."""
    pickup = draw(st.booleans())
    delivery = (DeliveryMethod(kind=DeliveryKind.PICKUP, pickup_location=draw(
        st.sampled_from(CODES))) if pickup else DeliveryMethod())
    return RoutingRequest(order_id="o-1", channel=draw(st.sampled_from(CHANNELS)),
                          segment=draw(st.sampled_from(SEGMENTS)),
                          demand=(LineQuantity(line_id="1", sku="SKU-1", quantity=1),),
                          delivery=delivery, destination=coordinates(MILAN),
                          destination_country=draw(st.none() | st.sampled_from(COUNTRIES)))


def _candidates(network: list[Location]) -> list[Candidate]:
    return [Candidate(location=loc, available={"SKU-1": 3}, distance_km=12.0)
            for loc in network]


def _verdicts(rules: dict[str, Any], request: RoutingRequest,
              candidates: list[Candidate]) -> list[Exclusion | Holdback]:
    # A fresh dict per call: the plugin caches per settings object, and each example must
    # be judged by its own settings.
    return list(omskit_routing_rules.omskit_routing_rules(
        request, candidates, {"routing_rules": dict(rules)}))


def _exclusions(verdicts: list[Exclusion | Holdback]) -> set[tuple[str, str]]:
    return {(v.location, v.rule) for v in verdicts if isinstance(v, Exclusion)}


def restricted(location: Location, request: RoutingRequest, rules: dict[str, Any]) -> bool:
    """Whether the settings say anything that could keep ``location`` from ``request``."""
    ships = request.delivery.kind is DeliveryKind.SHIP
    if ships and location.kind is LocationKind.STORE:
        sfs_on = rules.get("ship_from_store", {}).get("enabled", True)
        if sfs_on and Capability.SHIP_FROM_STORE not in location.capabilities:
            return True
        if "store_segments" in rules and request.segment not in rules["store_segments"]:
            return True
    allowed = rules.get("channel_groups", {}).get(request.channel)
    if allowed is not None and not set(allowed) & location.groups:
        return True
    ship_to = rules.get("ship_to", {})
    named = location.code in ship_to or any(GROUP_PREFIX + g in ship_to
                                            for g in location.groups)
    return ships and named


@given(rule_settings, locations(), requests())
def test_rules_never_exclude_a_location_the_settings_do_not_restrict(
        rules: dict[str, Any], network: list[Location], request: RoutingRequest) -> None:
    assert validate({"routing_rules": rules}) == []
    verdicts = _verdicts(rules, request, _candidates(network))

    by_code = {loc.code: loc for loc in network}
    for code, rule in _exclusions(verdicts):
        assert code in by_code, f"{rule} excluded {code}, which is not a candidate"
        assert restricted(by_code[code], request, rules), \
            f"{rule} excluded {code}, which the settings do not restrict"


@given(locations(), requests())
def test_unconfigured_plugin_excludes_nothing(network: list[Location],
                                              request: RoutingRequest) -> None:
    candidates = _candidates(network)
    assert list(omskit_routing_rules.omskit_routing_rules(request, candidates, {})) == []
    assert list(omskit_routing_rules.omskit_routing_rules(
        request, candidates, {"routing": {"max_shipments": 1}})) == []


@given(rule_settings, locations(), requests())
def test_a_verdict_on_one_location_does_not_depend_on_the_others(
        rules: dict[str, Any], network: list[Location], request: RoutingRequest) -> None:
    candidates = _candidates(network)
    together = _exclusions(_verdicts(rules, request, candidates))
    alone = set().union(*(_exclusions(_verdicts(rules, request, [c])) for c in candidates))
    assert together == alone


@given(rule_settings, locations(), requests(), st.data())
def test_removing_a_setting_never_excludes_more(
        rules: dict[str, Any], network: list[Location], request: RoutingRequest,
        data: st.DataObject) -> None:
    # ship_from_store is the one rule that is on by default, so removing its key may turn
    # it on; every other key only ever narrows. `zones` only names the regions `ship_to`
    # refers to: without it a name like "EU" is read as a country (documented), so it is
    # removed together with `ship_to`, not on its own.
    removable = sorted(set(rules) - {"ship_from_store"}
                       - ({"zones"} if "ship_to" in rules else set()))
    if not removable:
        return
    key = data.draw(st.sampled_from(removable))
    candidates = _candidates(network)
    fewer = {k: v for k, v in rules.items() if k != key}
    assert _exclusions(_verdicts(fewer, request, candidates)) \
        <= _exclusions(_verdicts(rules, request, candidates))


@given(rule_settings, locations(), requests())
def test_holdbacks_come_only_from_protected_units(
        rules: dict[str, Any], network: list[Location], request: RoutingRequest) -> None:
    holdbacks = [v for v in _verdicts(rules, request, _candidates(network))
                 if isinstance(v, Holdback)]
    protected = rules.get("protected_units", {})
    units = protected.get(request.segment, protected.get("*", 0))
    assert [(h.rule, h.quantity, h.location, h.sku) for h in holdbacks] \
        == ([("segment_priority", units, None, None)] if units else [])
