"""The marketplace shops of a deployment, from ``settings["marketplace"]["shops"]``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from omskit import CODE_PATTERN, LOCATION_CODE_PATTERN

#: The key of this plugin's settings.
SETTINGS_KEY = "marketplace"


@attrs.frozen(kw_only=True)
class Shop:
    """One marketplace shop: its orders come on channel ``marketplace:<code>``."""

    #: The shop's code in omskit (``acme``).
    code: str
    #: The shop's domain, as the marketplace names it in webhooks (``acme.myshopify.com``).
    domain: str
    #: The webhook signing secret (HMAC-SHA256 over the raw body).
    secret: str
    #: Locations whose stock the feed offers this shop (empty: every location).
    locations: tuple[str, ...] = ()
    #: Units per SKU held back from the shop's feed.
    buffer: int = 0
    #: SKUs never offered to this shop.
    excluded_skus: frozenset[str] = frozenset()

    @property
    def channel(self) -> str:
        """The omskit order channel of the shop's orders."""
        return f"{SETTINGS_KEY}:{self.code}"


def shop_problems(code: object, raw: object) -> list[str]:
    """What is wrong with one shop's settings."""
    where = f"{SETTINGS_KEY}.shops[{code!r}]"
    if not isinstance(code, str) or not CODE_PATTERN.fullmatch(code):
        return [f"{where}: the shop code must be a code like 'acme'"]
    if not isinstance(raw, Mapping):
        return [f"{where}: must be an object"]
    problems = []
    for key in ("domain", "secret"):
        if not isinstance(raw.get(key), str) or not raw.get(key):
            problems.append(f"{where}.{key}: required text")
    locations = raw.get("locations", [])
    if not isinstance(locations, list) or not all(
            isinstance(x, str) and LOCATION_CODE_PATTERN.fullmatch(x) for x in locations):
        problems.append(f"{where}.locations: must be a list of location codes")
    buffer = raw.get("buffer", 0)
    if isinstance(buffer, bool) or not isinstance(buffer, int) or buffer < 0:
        problems.append(f"{where}.buffer: must be a whole number from 0")
    excluded = raw.get("excluded_skus", [])
    if not isinstance(excluded, list) or not all(isinstance(x, str) for x in excluded):
        problems.append(f"{where}.excluded_skus: must be a list of SKUs")
    unknown = sorted(set(map(str, raw)) - {"domain", "secret", "locations", "buffer",
                                            "excluded_skus"})
    problems += [f"{where}.{key}: unknown setting" for key in unknown]
    return problems


def settings_problems(settings: Mapping[str, Any]) -> list[str]:
    """Every problem with ``settings["marketplace"]`` (none when it is absent)."""
    section = settings.get(SETTINGS_KEY)
    if section is None:
        return []
    shops = section.get("shops") if isinstance(section, Mapping) else None
    if not isinstance(shops, Mapping):
        return [f"{SETTINGS_KEY}.shops: must be an object of shop code: settings"]
    return [p for code, raw in shops.items() for p in shop_problems(code, raw)]


def shops_from(settings: Mapping[str, Any]) -> list[Shop]:
    """The shops of well-formed settings (none when malformed: the validator reports it)."""
    if settings_problems(settings) or settings.get(SETTINGS_KEY) is None:
        return []
    return [shop(code, raw) for code, raw in settings[SETTINGS_KEY]["shops"].items()]


def shop(code: str, raw: Mapping[str, Any]) -> Shop:
    """One shop from its (checked) settings."""
    return Shop(code=code, domain=raw["domain"], secret=raw["secret"],
                locations=tuple(raw.get("locations", ())), buffer=raw.get("buffer", 0),
                excluded_skus=frozenset(raw.get("excluded_skus", ())))


__all__ = ["SETTINGS_KEY", "Shop", "settings_problems", "shop", "shop_problems", "shops_from"]
