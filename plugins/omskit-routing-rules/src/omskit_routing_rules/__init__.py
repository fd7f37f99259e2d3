"""omskit-routing-rules: configurable routing rules for omskit.

Six rules, each off until configured in ``settings["routing_rules"]`` (except
``ship_from_store``, on whenever that key is present): ship-from-store eligibility, channel
location groups, shipping zones, segment rules (stores and protected units), maximum shipments
per segment or channel, and distance-priced shipping when no carrier is installed. The entry
point (``[project.entry-points.omskit]``, ``routing-rules = "omskit_routing_rules"``) registers
this module as the plugin::

    oms = omskit.bootstrap("sqlite:///shop.db", routing_strategy="optimal", settings={
        "routing_rules": {"channel_groups": {"marketplace": ["eu-dcs"]}},
    })

Without a ``routing_rules`` key the plugin does nothing. Every setting is documented in
``docs/routing-rules.md`` and the README.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
from omskit import (
    Candidate,
    Carrier,
    CostTerm,
    Exclusion,
    Holdback,
    RoutingPolicy,
    RoutingRequest,
    hookimpl,
)

from omskit_routing_rules import rules
from omskit_routing_rules.settings import (
    SETTINGS_KEY,
    DistanceShipping,
    RulesConfig,
    config_of,
    parse_settings,
    validate,
)

__all__ = [
    "SETTINGS_KEY",
    "DistanceShipping",
    "RulesConfig",
    "config_of",
    "omskit_routing_cost_terms",
    "omskit_routing_policy",
    "omskit_routing_rules",
    "omskit_validate_settings",
    "parse_settings",
    "rules",
]


@hookimpl
def omskit_validate_settings(settings: Mapping[str, Any]) -> list[str]:
    """Every problem of ``settings["routing_rules"]``, as ``"path: message"``."""
    return validate(settings)


@hookimpl
def omskit_routing_rules(request: RoutingRequest, candidates: Sequence[Candidate],
                         settings: Mapping[str, Any]) -> Iterable[Exclusion | Holdback]:
    """Exclusions and holdbacks of every configured rule (none when unconfigured)."""
    config = config_of(settings)
    if config is None:
        return []
    return list(rules.evaluate(request, candidates, config))


@hookimpl
def omskit_routing_cost_terms(request: RoutingRequest, candidates: Sequence[Candidate],
                              carriers: Sequence[Carrier],
                              settings: Mapping[str, Any]) -> Iterable[CostTerm]:
    """Distance-priced shipping terms when ``distance_shipping`` is set and no carrier is."""
    config = config_of(settings)
    if config is None:
        return []
    return list(rules.distance_shipping(request, candidates, carriers, config))


@hookimpl
def omskit_routing_policy(request: RoutingRequest, settings: Mapping[str, Any],
                          policy: RoutingPolicy) -> RoutingPolicy | None:
    """``policy`` with the segment's or channel's ``max_shipments`` (the smaller of the two),
    or ``None`` when neither is listed, so the deployment's default stands."""
    config = config_of(settings)
    if config is None:
        return None
    limit = rules.max_shipments(request, config)
    if limit is None:
        return None
    return attrs.evolve(policy, max_shipments=limit)
