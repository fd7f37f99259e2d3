"""``settings["carrier_tablerate"]``: zones, weight bands, transit days, the webhook secret.

Parsed once per settings mapping (cached by its identity, as omskit passes the same mapping to
every call) into :class:`TableRateSettings`; :func:`validate` lists every problem for
``omskit_validate_settings``, so a bad table fails at ``bootstrap``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs
from omskit import Address

#: The key of ``bootstrap(settings=...)`` this plugin reads.
SETTINGS_KEY = "carrier_tablerate"
_COUNTRY = re.compile(r"[A-Z]{2}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_PREFIX = re.compile(r"[A-Za-z0-9][A-Za-z0-9 -]{0,9}")


@attrs.frozen(kw_only=True)
class WeightBand:
    """Parcels up to ``up_to_grams`` (inclusive) cost ``price``."""

    up_to_grams: int
    price: Decimal


@attrs.frozen(kw_only=True)
class Zone:
    """Destinations priced alike: countries, optionally narrowed to postcode prefixes."""

    name: str
    countries: frozenset[str]
    postcodes: tuple[str, ...]
    transit_days: int
    bands: tuple[WeightBand, ...]

    def matches(self, address: Address) -> int | None:
        """How specifically the zone matches (the prefix length; 0 for the country alone),
        or None when it does not serve the address."""
        if address.country not in self.countries:
            return None
        if not self.postcodes:
            return 0
        postcode = (address.postal_code or "").replace(" ", "").upper()
        found = [len(p) for p in self.postcodes if postcode.startswith(p)]
        return max(found) if found else None

    def price(self, grams: int) -> Decimal | None:
        """The price of a parcel of ``grams``, or None when it is heavier than every band."""
        for band in self.bands:
            if grams <= band.up_to_grams:
                return band.price
        return None


@attrs.frozen(kw_only=True)
class TableRateSettings:
    """The parsed settings of the carrier."""

    currency: str
    zones: tuple[Zone, ...]
    webhook_secret: bytes
    tracking_prefix: str = "TR"
    #: Extra days for the ``express`` service: transit minus this, at least one day.
    express_days_saved: int = 1
    express_surcharge: Decimal = Decimal("4.00")

    def zone_for(self, address: Address) -> Zone | None:
        """The most specific zone serving ``address`` (longest postcode prefix first)."""
        best: tuple[int, int, Zone] | None = None
        for i, zone in enumerate(self.zones):
            score = zone.matches(address)
            if score is not None and (best is None or (score, -i) > best[:2]):
                best = (score, -i, zone)
        return None if best is None else best[2]


def _price(value: object, where: str, problems: list[str]) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int):
        problems.append(f"{where}: must be a decimal string like '5.90', not {value!r}")
        return Decimal(0)
    try:
        found = Decimal(value)
    except InvalidOperation:
        problems.append(f"{where}: {value!r} is not a decimal")
        return Decimal(0)
    if not found.is_finite() or found < 0:
        problems.append(f"{where}: must be a price ≥ 0, not {value!r}")
    return found


def _whole(value: object, where: str, problems: list[str], low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        problems.append(f"{where}: must be a whole number ≥ {low}, not {value!r}")
        return low
    return value


def _zone(raw: object, where: str, problems: list[str]) -> Zone | None:
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: must be an object")
        return None
    unknown = sorted(set(raw) - {"name", "countries", "postcodes", "transit_days", "bands"})
    problems.extend(f"{where}.{k}: unknown field" for k in unknown)
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{where}.name: required, a non-empty string")
    countries = raw.get("countries")
    if (not isinstance(countries, list) or not countries
            or not all(isinstance(c, str) and _COUNTRY.fullmatch(c) for c in countries)):
        problems.append(f"{where}.countries: a non-empty list of ISO country codes like 'IT'")
        countries = []
    postcodes = raw.get("postcodes", [])
    if not isinstance(postcodes, list) or not all(
            isinstance(p, str) and _PREFIX.fullmatch(p) for p in postcodes):
        problems.append(f"{where}.postcodes: a list of postcode prefixes like '20' or 'SW1'")
        postcodes = []
    transit = _whole(raw.get("transit_days"), f"{where}.transit_days", problems, 1)
    bands_raw = raw.get("bands")
    bands: list[WeightBand] = []
    if not isinstance(bands_raw, list) or not bands_raw:
        problems.append(f"{where}.bands: a non-empty list of {{up_to_grams, price}}")
    else:
        for j, band in enumerate(bands_raw):
            at = f"{where}.bands[{j}]"
            if not isinstance(band, Mapping) or set(band) != {"up_to_grams", "price"}:
                problems.append(f"{at}: must be {{\"up_to_grams\": ..., \"price\": ...}}")
                continue
            bands.append(WeightBand(
                up_to_grams=_whole(band["up_to_grams"], f"{at}.up_to_grams", problems, 1),
                price=_price(band["price"], f"{at}.price", problems)))
        limits = [b.up_to_grams for b in bands]
        if limits != sorted(set(limits)):
            problems.append(f"{where}.bands: up_to_grams must increase from band to band")
    return Zone(name=str(name), countries=frozenset(countries),
                postcodes=tuple(p.replace(" ", "").upper() for p in postcodes),
                transit_days=transit, bands=tuple(bands))


def parse(raw: object) -> tuple[TableRateSettings | None, list[str]]:
    """The settings and every problem found (``None`` when there is any)."""
    problems: list[str] = []
    if not isinstance(raw, Mapping):
        return None, [f"{SETTINGS_KEY}: must be an object"]
    allowed = {"currency", "zones", "webhook_secret", "tracking_prefix", "express_days_saved",
               "express_surcharge"}
    problems.extend(f"{SETTINGS_KEY}.{k}: unknown field" for k in sorted(set(raw) - allowed))
    currency = raw.get("currency", "EUR")
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency):
        problems.append(f"{SETTINGS_KEY}.currency: an ISO 4217 code like 'EUR'")
    secret = raw.get("webhook_secret")
    if not isinstance(secret, str) or len(secret) < 16:
        problems.append(f"{SETTINGS_KEY}.webhook_secret: required, at least 16 characters")
        secret = ""
    prefix = raw.get("tracking_prefix", "TR")
    if not isinstance(prefix, str) or not re.fullmatch(r"[A-Z]{1,4}", prefix):
        problems.append(f"{SETTINGS_KEY}.tracking_prefix: 1 to 4 capital letters")
    zones_raw = raw.get("zones")
    zones: list[Zone] = []
    if not isinstance(zones_raw, list) or not zones_raw:
        problems.append(f"{SETTINGS_KEY}.zones: a non-empty list of zones")
    else:
        for i, z in enumerate(zones_raw):
            zone = _zone(z, f"{SETTINGS_KEY}.zones[{i}]", problems)
            if zone is not None:
                zones.append(zone)
    saved = _whole(raw.get("express_days_saved", 1), f"{SETTINGS_KEY}.express_days_saved",
                   problems, 0)
    surcharge = _price(raw.get("express_surcharge", "4.00"),
                       f"{SETTINGS_KEY}.express_surcharge", problems)
    if problems:
        return None, problems
    return TableRateSettings(currency=str(currency), zones=tuple(zones),
                             webhook_secret=str(secret).encode(), tracking_prefix=str(prefix),
                             express_days_saved=saved, express_surcharge=surcharge), []


def validate(settings: Mapping[str, Any]) -> list[str]:
    """Problems of ``settings["carrier_tablerate"]`` (none when the key is absent)."""
    if SETTINGS_KEY not in settings:
        return []
    return parse(settings[SETTINGS_KEY])[1]


_cache: dict[int, tuple[Mapping[str, Any], TableRateSettings | None]] = {}


def settings_of(settings: Mapping[str, Any]) -> TableRateSettings | None:
    """The parsed settings (None when the key is absent), cached by the mapping's identity
    (the mapping is kept alive with its parse, so an id is never reused for another)."""
    found = _cache.get(id(settings))
    if found is not None and found[0] is settings:
        return found[1]
    parsed = parse(settings[SETTINGS_KEY])[0] if SETTINGS_KEY in settings else None
    if len(_cache) > 64:
        _cache.clear()
    _cache[id(settings)] = (settings, parsed)
    return parsed

