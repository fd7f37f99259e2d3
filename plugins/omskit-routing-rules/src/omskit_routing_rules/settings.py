"""``settings["routing_rules"]``: checked once at bootstrap, parsed once per settings object.

:func:`parse_settings` turns the raw mapping into a frozen :class:`RulesConfig` and lists every
problem as ``"path: message"`` (the format ``omskit.bootstrap`` reports in ``InvalidSettings``).
The routing hooks call :func:`config_of`, which caches the parsed config per settings object,
because they run once per routing decision and must not re-read the mapping every time.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import attrs
from omskit import Location, RateTableCarrier, check_location_code

#: The key of ``bootstrap(settings=...)`` this plugin reads.
SETTINGS_KEY = "routing_rules"
#: Prefix of a ``ship_to`` key that names a location group rather than a location code.
GROUP_PREFIX = "group:"
#: Key of ``protected_units`` that applies to every segment not listed by name.
ANY_SEGMENT = "*"

_COUNTRY = re.compile(r"^[A-Z]{2}$")
_KNOWN = ("ship_from_store", "channel_groups", "zones", "ship_to", "store_segments",
          "protected_units", "max_shipments", "distance_shipping")


@attrs.frozen(kw_only=True)
class DistanceShipping:
    """Shipping priced by distance when no carrier is installed (``distance_shipping``).

    ``base + per_km × km`` per shipment plus ``per_unit`` per unit; transit takes
    ``transit_days_base`` days plus one per started ``km_per_day`` beyond the first, exactly
    like :class:`omskit.domain.carriers.RateTableCarrier`, which does the arithmetic.
    """

    base: float = 0.0
    per_km: float = 0.0
    per_unit: float = 0.0
    km_per_day: float = 800.0
    transit_days_base: int = 1

    @property
    def rate_card(self) -> RateTableCarrier:
        """The same prices as a rate-table carrier (code ``distance``)."""
        return RateTableCarrier(code="distance", base=self.base, per_km=self.per_km,
                                per_unit=self.per_unit, km_per_day=self.km_per_day,
                                transit_days_base=self.transit_days_base)


@attrs.frozen(kw_only=True)
class RulesConfig:
    """The parsed ``settings["routing_rules"]``; every field's default leaves its rule off,
    except ``ship_from_store``, which is on whenever the plugin is configured at all."""

    ship_from_store: bool = True
    #: Channel code → groups a location must belong to (one is enough) to serve it.
    channel_groups: Mapping[str, frozenset[str]] = attrs.field(factory=dict)
    #: Zone name → its countries.
    zones: Mapping[str, frozenset[str]] = attrs.field(factory=dict)
    #: Location code → countries it may ship to (zones already expanded).
    ship_to_locations: Mapping[str, frozenset[str]] = attrs.field(factory=dict)
    #: Group name → countries its locations may ship to (zones already expanded).
    ship_to_groups: Mapping[str, frozenset[str]] = attrs.field(factory=dict)
    #: Segments that may be served from stores; ``None``: every segment.
    store_segments: frozenset[str] | None = None
    #: Segment → units per location and SKU it may not take (``*``: any other segment).
    protected_units: Mapping[str, int] = attrs.field(factory=dict)
    max_shipments_by_segment: Mapping[str, int] = attrs.field(factory=dict)
    max_shipments_by_channel: Mapping[str, int] = attrs.field(factory=dict)
    distance_shipping: DistanceShipping | None = None

    def countries_for(self, location: Location) -> frozenset[str] | None:
        """Countries ``location`` may ship to, or ``None`` when ``ship_to`` does not restrict
        it. Its own entry wins over its groups' (the more specific setting); otherwise the
        countries of all its groups' entries add up."""
        own = self.ship_to_locations.get(location.code)
        if own is not None:
            return own
        found: frozenset[str] | None = None
        if self.ship_to_groups:
            for group in location.groups:
                countries = self.ship_to_groups.get(group)
                if countries is not None:
                    found = countries if found is None else found | countries
        return found

    def protected_for(self, segment: str) -> int:
        """Units per location and SKU that ``segment`` may not take."""
        return self.protected_units.get(segment, self.protected_units.get(ANY_SEGMENT, 0))


# -- parsing ------------------------------------------------------------------------------------


def _is_name(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _mapping(value: object, path: str, expected: str, problems: list[str]) -> Mapping[str, Any]:
    """``value`` if it is a mapping with string keys, else ``{}`` and a problem."""
    if not isinstance(value, Mapping):
        problems.append(f"{path}: must be {expected}")
        return {}
    bad = [k for k in value if not _is_name(k)]
    if bad:
        problems.append(f"{path}: keys must be non-empty strings, got {bad[0]!r}")
        return {k: v for k, v in value.items() if _is_name(k)}
    return value


def _unknown(section: Mapping[str, Any], known: tuple[str, ...], path: str,
             problems: list[str]) -> None:
    problems.extend(f"{path}.{k}: unknown setting" for k in sorted(set(section) - set(known)))


def _names(value: object, path: str, what: str, problems: list[str]) -> frozenset[str] | None:
    """A list of non-empty strings as a set, else ``None`` and a problem."""
    if not isinstance(value, list | tuple) or not all(_is_name(v) for v in value):
        problems.append(f"{path}: must be a list of {what}")
        return None
    return frozenset(value)


def _whole(value: object, path: str, minimum: int, problems: list[str]) -> int | None:
    # bool is an int subclass: ``true`` is a typo for a number, not 1.
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        problems.append(f"{path}: must be a whole number ≥ {minimum}, got {value!r}")
        return None
    return value


def _number(value: object, path: str, problems: list[str], *,
            positive: bool = False) -> float | None:
    if (isinstance(value, bool) or not isinstance(value, int | float) or value != value
            or value in (float("inf"), float("-inf")) or value < 0 or (positive and value == 0)):
        bound = "> 0" if positive else "≥ 0"
        problems.append(f"{path}: must be a number {bound}, got {value!r}")
        return None
    return float(value)


def _ship_from_store(value: object, path: str, problems: list[str]) -> bool:
    section = _mapping(value, path, 'a mapping such as {"enabled": true}', problems)
    _unknown(section, ("enabled",), path, problems)
    enabled = section.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.append(f"{path}.enabled: must be true or false, got {enabled!r}")
        return True
    return enabled


def _channel_groups(value: object, path: str, problems: list[str]) -> dict[str, frozenset[str]]:
    section = _mapping(value, path, "a mapping of channel codes to lists of group names",
                       problems)
    parsed: dict[str, frozenset[str]] = {}
    for channel, groups in section.items():
        names = _names(groups, f"{path}.{channel}", "group names", problems)
        if names is None:
            continue
        if not names:
            # A channel no location may serve is a typo far more often than a wish.
            problems.append(f"{path}.{channel}: must name at least one group")
            continue
        parsed[channel] = names
    return parsed


def _zones(value: object, path: str, problems: list[str]) -> dict[str, frozenset[str]]:
    section = _mapping(value, path, "a mapping of zone names to lists of country codes",
                       problems)
    parsed: dict[str, frozenset[str]] = {}
    for zone, countries in section.items():
        names = _names(countries, f"{path}.{zone}", "country codes", problems)
        if names is None:
            continue
        wrong = sorted(c for c in names if not _COUNTRY.match(c))
        if wrong:
            problems.append(f"{path}.{zone}: {wrong[0]!r} is not a country code like 'IT'")
        elif not names:
            problems.append(f"{path}.{zone}: must list at least one country")
        else:
            parsed[zone] = names
    return parsed


def _ship_to(value: object, path: str, zones: Mapping[str, frozenset[str]],
             zone_names: frozenset[str], problems: list[str]
             ) -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    section = _mapping(value, path, 'a mapping of location codes or "group:<name>" to lists '
                       "of zones or country codes", problems)
    by_location: dict[str, frozenset[str]] = {}
    by_group: dict[str, frozenset[str]] = {}
    for key, targets in section.items():
        where = f"{path}.{key}"
        group = key[len(GROUP_PREFIX):] if key.startswith(GROUP_PREFIX) else None
        if group is not None and not group.strip():
            problems.append(f"{where}: group name missing after 'group:'")
            continue
        if group is None:
            # omskit's own rule for location codes (WA-0000, DC01, dc-milan), so that a
            # key that could never match a location is reported, not silently ignored.
            before = len(problems)
            check_location_code(key, where, problems)
            if len(problems) > before:
                continue
        names = _names(targets, where, "zones or country codes", problems)
        if names is None:
            continue
        if not names:
            problems.append(f"{where}: must list at least one zone or country")
            continue
        countries: set[str] = set()
        ok = True
        for name in sorted(names):
            # A zone name wins over a country code of the same spelling: zones are declared.
            if name in zones:
                countries |= zones[name]
            elif name in zone_names:
                ok = False  # the zone itself is invalid and already reported
            elif _COUNTRY.match(name):
                countries.add(name)
            else:
                problems.append(f"{where}: {name!r} is neither a zone nor a country code")
                ok = False
        if ok:
            (by_group if group is not None else by_location)[group or key] = frozenset(countries)
    return by_location, by_group


def _protected_units(value: object, path: str, problems: list[str]) -> dict[str, int]:
    section = _mapping(value, path, "a mapping of segment names to units", problems)
    parsed: dict[str, int] = {}
    for segment, units in section.items():
        n = _whole(units, f"{path}.{segment}", 0, problems)
        if n is not None:
            parsed[segment] = n
    return parsed


def _max_shipments(value: object, path: str, problems: list[str]
                   ) -> tuple[dict[str, int], dict[str, int]]:
    section = _mapping(value, path, 'a mapping with "segment" and/or "channel"', problems)
    _unknown(section, ("segment", "channel"), path, problems)
    limits: dict[str, dict[str, int]] = {"segment": {}, "channel": {}}
    for kind, parsed in limits.items():
        if kind not in section:
            continue
        where = f"{path}.{kind}"
        by_name = _mapping(section[kind], where, f"a mapping of {kind} names to whole numbers",
                           problems)
        for name, limit in by_name.items():
            n = _whole(limit, f"{where}.{name}", 1, problems)
            if n is not None:
                parsed[name] = n
    return limits["segment"], limits["channel"]


def _distance_shipping(value: object, path: str, problems: list[str]) -> DistanceShipping:
    section = _mapping(value, path, "a mapping of prices", problems)
    fields = ("base", "per_km", "per_unit", "km_per_day", "transit_days_base")
    _unknown(section, fields, path, problems)
    changes: dict[str, Any] = {}
    for key in ("base", "per_km", "per_unit", "km_per_day"):
        if key in section:
            number = _number(section[key], f"{path}.{key}", problems,
                             positive=key == "km_per_day")
            if number is not None:
                changes[key] = number
    if "transit_days_base" in section:
        days = _whole(section["transit_days_base"], f"{path}.transit_days_base", 0, problems)
        if days is not None:
            changes["transit_days_base"] = days
    return DistanceShipping(**changes)


def parse_settings(settings: Mapping[str, Any], problems: list[str]) -> RulesConfig | None:
    """Read ``settings["routing_rules"]``, appending a ``"path: message"`` per problem.

    Returns ``None`` when the key is absent: the plugin is then inactive (installing it
    changes nothing until it is configured).
    """
    if SETTINGS_KEY not in settings:
        return None
    raw = settings[SETTINGS_KEY]
    path = SETTINGS_KEY
    section = _mapping(raw, path, "a mapping", problems)
    _unknown(section, _KNOWN, path, problems)

    changes: dict[str, Any] = {}
    if "ship_from_store" in section:
        changes["ship_from_store"] = _ship_from_store(section["ship_from_store"],
                                                      f"{path}.ship_from_store", problems)
    if "channel_groups" in section:
        changes["channel_groups"] = _channel_groups(section["channel_groups"],
                                                    f"{path}.channel_groups", problems)
    zones: dict[str, frozenset[str]] = {}
    zone_names: frozenset[str] = frozenset()
    if "zones" in section:
        zones = _zones(section["zones"], f"{path}.zones", problems)
        if isinstance(section["zones"], Mapping):
            zone_names = frozenset(k for k in section["zones"] if isinstance(k, str))
        changes["zones"] = zones
    if "ship_to" in section:
        by_location, by_group = _ship_to(section["ship_to"], f"{path}.ship_to", zones,
                                         zone_names, problems)
        changes["ship_to_locations"] = by_location
        changes["ship_to_groups"] = by_group
    if "store_segments" in section:
        segments = _names(section["store_segments"], f"{path}.store_segments",
                          "segment names", problems)
        if segments is not None:
            changes["store_segments"] = segments
    if "protected_units" in section:
        changes["protected_units"] = _protected_units(section["protected_units"],
                                                      f"{path}.protected_units", problems)
    if "max_shipments" in section:
        by_segment, by_channel = _max_shipments(section["max_shipments"],
                                                f"{path}.max_shipments", problems)
        changes["max_shipments_by_segment"] = by_segment
        changes["max_shipments_by_channel"] = by_channel
    if "distance_shipping" in section:
        changes["distance_shipping"] = _distance_shipping(section["distance_shipping"],
                                                          f"{path}.distance_shipping", problems)
    return RulesConfig(**changes)


def validate(settings: Mapping[str, Any]) -> list[str]:
    """Every problem of ``settings["routing_rules"]`` (none when the key is absent)."""
    problems: list[str] = []
    parse_settings(settings, problems)
    return problems


# -- cache --------------------------------------------------------------------------------------

#: How many settings objects keep their parsed config (one per live ``Oms`` in practice).
CACHE_SIZE = 32

_cache: OrderedDict[int, tuple[Mapping[str, Any], RulesConfig | None]] = OrderedDict()
_cache_lock = threading.Lock()


def config_of(settings: Mapping[str, Any]) -> RulesConfig | None:
    """The parsed config of ``settings`` (validated at bootstrap), parsed once per object.

    Keyed by ``id(settings)``; the entry keeps the settings object itself alive and is used
    only when it *is* that object, so a recycled id can never return another deployment's
    config. Settings are read once: changing the mapping after ``bootstrap`` has no effect.
    """
    key = id(settings)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] is settings:
            _cache.move_to_end(key)
            return hit[1]
    # Parsing outside the lock: two threads may both parse once, which is harmless.
    config = parse_settings(settings, [])
    with _cache_lock:
        _cache[key] = (settings, config)
        _cache.move_to_end(key)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return config
