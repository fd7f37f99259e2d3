"""``settings["routing_rules"]`` is checked at bootstrap, with one exact message per problem."""

from __future__ import annotations

from typing import Any

import pytest
from omskit import InvalidSettings, bootstrap

import omskit_routing_rules
from omskit_routing_rules.settings import (
    DistanceShipping,
    RulesConfig,
    config_of,
    parse_settings,
    validate,
)
from routing_rules_helpers import FULL_EXAMPLE


def problems_of(rules: Any) -> list[str]:
    """The problems ``bootstrap`` raises for ``settings={"routing_rules": rules}``."""
    with pytest.raises(InvalidSettings) as caught:
        bootstrap("sqlite://", plugins=[omskit_routing_rules], load_entrypoints=False,
                  settings={"routing_rules": rules})
    return list(caught.value.problems)


def test_the_documented_example_is_valid_and_parses() -> None:
    problems: list[str] = []
    config = parse_settings({"routing_rules": FULL_EXAMPLE}, problems)

    assert problems == []
    assert config == RulesConfig(
        ship_from_store=True,
        channel_groups={"marketplace": frozenset({"eu-dcs"})},
        zones={"EU": frozenset({"IT", "FR", "DE", "ES"})},
        ship_to_locations={"dc-zurich": frozenset({"CH", "IT", "FR", "DE", "ES"})},
        ship_to_groups={"eu-dcs": frozenset({"IT", "FR", "DE", "ES"})},
        store_segments=frozenset({"gold"}),
        protected_units={"gold": 0, "*": 1},
        max_shipments_by_segment={"gold": 1},
        max_shipments_by_channel={"marketplace": 2},
        distance_shipping=DistanceShipping(base=4.0, per_km=0.01, per_unit=0.2,
                                           km_per_day=600.0),
    )


def test_absent_key_means_inactive_and_empty_means_ship_from_store_only() -> None:
    assert parse_settings({}, []) is None
    assert parse_settings({"routing": {"max_shipments": 2}}, []) is None
    assert validate({}) == []
    assert parse_settings({"routing_rules": {}}, []) == RulesConfig()
    assert RulesConfig().ship_from_store is True


def test_a_valid_bootstrap_succeeds() -> None:
    with bootstrap("sqlite://", plugins=[omskit_routing_rules], load_entrypoints=False,
                   settings={"routing_rules": FULL_EXAMPLE}) as oms:
        assert "omskit_routing_rules" in [p.name for p in oms.plugins()]


@pytest.mark.parametrize(("rules", "expected"), [
    pytest.param(["ship_from_store"], ["routing_rules: must be a mapping"], id="not-a-mapping"),
    pytest.param({"zone": {}, "channel_group": {}},
                 ["routing_rules.channel_group: unknown setting",
                  "routing_rules.zone: unknown setting"], id="unknown-keys"),
    pytest.param({"ship_from_store": True},
                 ['routing_rules.ship_from_store: must be a mapping such as {"enabled": true}'],
                 id="ship-from-store-bool"),
    pytest.param({"ship_from_store": {"enabled": "yes", "stores": []}},
                 ["routing_rules.ship_from_store.stores: unknown setting",
                  "routing_rules.ship_from_store.enabled: must be true or false, got 'yes'"],
                 id="ship-from-store-fields"),
    pytest.param({"channel_groups": {"web": "eu-dcs", "app": [], "pos": ["", "x"]}},
                 ["routing_rules.channel_groups.web: must be a list of group names",
                  "routing_rules.channel_groups.app: must name at least one group",
                  "routing_rules.channel_groups.pos: must be a list of group names"],
                 id="channel-groups"),
    pytest.param({"channel_groups": ["web"]},
                 ["routing_rules.channel_groups: must be a mapping of channel codes to lists "
                  "of group names"], id="channel-groups-list"),
    pytest.param({"zones": {"EU": ["IT", "fr"], "NA": "US", "NONE": []}},
                 ["routing_rules.zones.EU: 'fr' is not a country code like 'IT'",
                  "routing_rules.zones.NA: must be a list of country codes",
                  "routing_rules.zones.NONE: must list at least one country"], id="zones"),
    pytest.param({"zones": {"EU": ["IT"]},
                  "ship_to": {"group:": ["EU"], "dc-1": ["MARS"], "dc-2": "EU", "dc-3": [],
                              "group:us": ["US", "EU"], "WA-0000": ["IT"],
                              "dc milan": ["IT"]}},
                 ["routing_rules.ship_to.group:: group name missing after 'group:'",
                  "routing_rules.ship_to.dc-1: 'MARS' is neither a zone nor a country code",
                  "routing_rules.ship_to.dc-2: must be a list of zones or country codes",
                  "routing_rules.ship_to.dc-3: must list at least one zone or country",
                  "routing_rules.ship_to.dc milan: 'dc milan' is not a location code like "
                  "'DC01' or 'dc-milan' (letters, digits, '_', '.', ':', '-')"],
                 id="ship-to"),
    pytest.param({"store_segments": "gold"},
                 ["routing_rules.store_segments: must be a list of segment names"],
                 id="store-segments"),
    pytest.param({"protected_units": {"gold": -1, "standard": 1.5, "b2b": True, "x": 2}},
                 ["routing_rules.protected_units.gold: must be a whole number ≥ 0, got -1",
                  "routing_rules.protected_units.standard: must be a whole number ≥ 0, got 1.5",
                  "routing_rules.protected_units.b2b: must be a whole number ≥ 0, got True"],
                 id="protected-units"),
    pytest.param({"max_shipments": {"segment": {"gold": 0}, "channel": {"web": "2"},
                                    "customer": {}}},
                 ["routing_rules.max_shipments.customer: unknown setting",
                  "routing_rules.max_shipments.segment.gold: must be a whole number ≥ 1, got 0",
                  "routing_rules.max_shipments.channel.web: must be a whole number ≥ 1, "
                  "got '2'"], id="max-shipments"),
    pytest.param({"max_shipments": {"segment": [1]}},
                 ["routing_rules.max_shipments.segment: must be a mapping of segment names "
                  "to whole numbers"], id="max-shipments-not-mapping"),
    pytest.param({"distance_shipping": {"base": "4", "per_km": -0.1, "km_per_day": 0,
                                        "transit_days_base": 1.0, "currency": "EUR"}},
                 ["routing_rules.distance_shipping.currency: unknown setting",
                  "routing_rules.distance_shipping.base: must be a number ≥ 0, got '4'",
                  "routing_rules.distance_shipping.per_km: must be a number ≥ 0, got -0.1",
                  "routing_rules.distance_shipping.km_per_day: must be a number > 0, got 0",
                  "routing_rules.distance_shipping.transit_days_base: must be a whole number "
                  "≥ 0, got 1.0"], id="distance-shipping"),
    pytest.param({"distance_shipping": {"per_unit": float("nan")}},
                 ["routing_rules.distance_shipping.per_unit: must be a number ≥ 0, got nan"],
                 id="distance-shipping-nan"),
    pytest.param({"channel_groups": {1: ["eu-dcs"]}},
                 ["routing_rules.channel_groups: keys must be non-empty strings, got 1"],
                 id="non-string-key"),
])
def test_problems_are_reported_at_bootstrap(rules: Any, expected: list[str]) -> None:
    assert problems_of(rules) == expected
    assert validate({"routing_rules": rules}) == expected


def test_an_undeclared_two_letter_name_is_taken_as_a_country() -> None:
    # Documented pitfall: without a "zones" entry, "EU" is read as a country code.
    config = parse_settings({"routing_rules": {"ship_to": {"dc-1": ["EU"]}}}, [])
    assert config is not None
    assert config.ship_to_locations == {"dc-1": frozenset({"EU"})}


def test_every_problem_is_reported_at_once() -> None:
    found = problems_of({"zones": "EU", "store_segments": 3, "speed": 1})
    assert found == ["routing_rules.speed: unknown setting",
                     "routing_rules.zones: must be a mapping of zone names to lists of "
                     "country codes",
                     "routing_rules.store_segments: must be a list of segment names"]


def test_a_declared_zone_wins_over_a_country_of_the_same_spelling() -> None:
    config = parse_settings({"routing_rules": {"zones": {"EU": ["IT", "FR"]},
                                               "ship_to": {"dc-1": ["EU", "CH"]}}}, [])
    assert config is not None
    assert config.ship_to_locations == {"dc-1": frozenset({"IT", "FR", "CH"})}


def test_a_ship_to_entry_naming_an_invalid_zone_is_reported_once() -> None:
    # The zone's own problem is enough: the ship_to entry is dropped without a second one.
    assert problems_of({"zones": {"EU": ["it"]}, "ship_to": {"dc-1": ["EU"]}}) \
        == ["routing_rules.zones.EU: 'it' is not a country code like 'IT'"]


def test_config_is_parsed_once_per_settings_object(monkeypatch: pytest.MonkeyPatch) -> None:
    from omskit_routing_rules import settings as module

    calls: list[object] = []
    real = module.parse_settings

    def counting(settings: Any, problems: list[str]) -> RulesConfig | None:
        calls.append(settings)
        return real(settings, problems)

    monkeypatch.setattr(module, "parse_settings", counting)
    first = {"routing_rules": {"store_segments": ["gold"]}}
    equal_but_other = {"routing_rules": {"store_segments": ["gold"]}}

    parsed = [config_of(first) for _ in range(100)]
    other = config_of(equal_but_other)

    assert len(calls) == 2  # once per object, not once per decision
    assert all(p is parsed[0] for p in parsed)
    assert other == parsed[0]
    assert other is not parsed[0]
