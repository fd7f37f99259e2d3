"""The core's settings: ``settings["routing"]`` and ``settings["inventory"]`` of ``bootstrap``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs

from omskit.domain.routing import RoutingPolicy


@attrs.frozen(kw_only=True)
class RoutingSettings:
    """Deployment-wide routing settings (all optional).

    - ``backorder_penalty``, ``split_penalty``, ``max_shipments``: the default
      :class:`~omskit.domain.routing.RoutingPolicy`;
    - ``segment_priority``: segments in the order they get scarce stock (``["gold",
      "silver"]``); unlisted segments come after, all alike;
    - ``explain_limit``: how many considered-but-unused candidates a stored explanation keeps;
    - ``geocoders``: the geocoder codes to ask, in order, for an address without coordinates
      (default: every installed geocoder, in code order).
    """

    policy: RoutingPolicy = attrs.field(factory=RoutingPolicy)
    segment_priority: tuple[str, ...] = ()
    explain_limit: int = 10
    geocoders: tuple[str, ...] | None = None


@attrs.frozen(kw_only=True)
class InventorySettings:
    """Deployment-wide inventory settings: ``channel_buffers`` maps a channel to the units
    per location and SKU it may not take (kept for other channels)."""

    channel_buffers: Mapping[str, int] = attrs.field(factory=dict)


def _number(section: Mapping[str, Any], key: str, path: str, problems: list[str],
            *, integer: bool = False, nullable: bool = False) -> Any:
    value = section.get(key)
    if value is None and nullable:
        return None
    kinds = (int,) if integer else (int, float)
    if (isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value)
            or value < 0):
        what = "a whole number" if integer else "a number"
        problems.append(f"{path}.{key}: must be {what} ≥ 0 (finite), got {value!r}")
        return None
    return value


def parse_routing(settings: Mapping[str, Any], problems: list[str]) -> RoutingSettings:
    """Read ``settings["routing"]``, appending a message per problem to ``problems``."""
    section = settings.get("routing", {})
    if not isinstance(section, Mapping):
        problems.append("routing: must be a mapping")
        return RoutingSettings()
    known = {"backorder_penalty", "split_penalty", "max_shipments", "segment_priority",
             "explain_limit", "exact", "geocoders"}
    problems.extend(f"routing.{k}: unknown setting" for k in sorted(set(section) - known))
    default = RoutingSettings()
    policy = default.policy
    changes: dict[str, Any] = {}
    for key in ("backorder_penalty", "split_penalty"):
        if key in section:
            value = _number(section, key, "routing", problems)
            if value is not None:
                changes[key] = float(value)
    if "max_shipments" in section:
        value = _number(section, "max_shipments", "routing", problems, integer=True,
                        nullable=True)
        if value == 0:
            problems.append("routing.max_shipments: must be at least 1 (or null)")
        else:
            changes["max_shipments"] = value
    if "exact" in section:
        if isinstance(section["exact"], bool):
            changes["exact"] = section["exact"]
        else:
            problems.append(f"routing.exact: must be true or false, got {section['exact']!r}")
    segments = section.get("segment_priority", ())
    if not isinstance(segments, list | tuple) or not all(isinstance(s, str) for s in segments):
        problems.append("routing.segment_priority: must be a list of segment names")
        segments = ()
    limit = default.explain_limit
    if "explain_limit" in section:
        limit = _number(section, "explain_limit", "routing", problems, integer=True) or 0
    geocoders = section.get("geocoders")
    if geocoders is not None and (not isinstance(geocoders, list | tuple)
                                  or not all(isinstance(g, str) for g in geocoders)):
        problems.append("routing.geocoders: must be a list of geocoder codes")
        geocoders = None
    return RoutingSettings(policy=attrs.evolve(policy, **changes),
                           segment_priority=tuple(segments), explain_limit=limit,
                           geocoders=tuple(geocoders) if geocoders is not None else None)


def parse_inventory(settings: Mapping[str, Any], problems: list[str]) -> InventorySettings:
    """Read ``settings["inventory"]``, appending a message per problem to ``problems``."""
    section = settings.get("inventory", {})
    if not isinstance(section, Mapping):
        problems.append("inventory: must be a mapping")
        return InventorySettings()
    problems.extend(f"inventory.{k}: unknown setting"
                    for k in sorted(set(section) - {"channel_buffers"}))
    buffers = section.get("channel_buffers", {})
    if not isinstance(buffers, Mapping):
        problems.append("inventory.channel_buffers: must map channel codes to units")
        return InventorySettings()
    clean: dict[str, int] = {}
    for channel, units in buffers.items():
        if isinstance(units, bool) or not isinstance(units, int) or units < 0:
            problems.append(f"inventory.channel_buffers.{channel}: must be a whole number ≥ 0")
        else:
            clean[str(channel)] = units
    return InventorySettings(channel_buffers=clean)


def routing_settings(settings: Mapping[str, Any]) -> RoutingSettings:
    """The routing settings (already validated at bootstrap)."""
    return parse_routing(settings, [])


def inventory_settings(settings: Mapping[str, Any]) -> InventorySettings:
    """The inventory settings (already validated at bootstrap)."""
    return parse_inventory(settings, [])
