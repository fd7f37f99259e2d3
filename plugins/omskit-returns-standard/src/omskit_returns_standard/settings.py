"""``settings["returns_standard"]``: the window, reasons, categories, fees and store rules.

Parsed once per settings mapping (cached by its identity: omskit passes the same mapping to
every call) into :class:`StandardSettings`; :func:`validate` lists every problem for
``omskit_validate_settings``, so a bad policy fails at ``bootstrap``.
"""

from __future__ import annotations

import enum
import fnmatch
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

#: The key of ``bootstrap(settings=...)`` this plugin reads.
SETTINGS_KEY = "returns_standard"


class ShippingRefund(enum.StrEnum):
    """When the customer's shipping charge is refunded."""

    NEVER = "never"
    WHOLE_ORDER = "whole_order"  # when the last shipped unit comes back
    ALWAYS = "always"


@attrs.frozen(kw_only=True)
class StoreRules:
    """Which stores take returns over the counter."""

    #: Stores take returns at all.
    accept: bool = True
    #: A store other than the one that shipped the order may take it back.
    other_stores: bool = True
    #: Orders of these channels may be returned in a store (empty: every channel).
    order_channels: frozenset[str] = frozenset()


@attrs.frozen(kw_only=True)
class StandardSettings:
    """The parsed policy (defaults: 30 days, any reason, no fee, stores take everything)."""

    window_days: int = 30
    #: Reasons a customer may give (empty: any); ``require_reason``: one must be given.
    reasons: frozenset[str] = frozenset()
    require_reason: bool = False
    #: SKU patterns (``GIFT-*``) to categories, first match wins; categories never taken back.
    categories: tuple[tuple[str, str], ...] = ()
    non_returnable_categories: frozenset[str] = frozenset()
    #: Channels a return may be started from (empty: any).
    channels: frozenset[str] = frozenset()
    restocking_fee_percent: Decimal = Decimal(0)
    #: Reasons the restocking fee applies to (empty: every reason).
    restocking_fee_reasons: frozenset[str] = frozenset()
    #: Deducted when the customer used a return label omskit bought.
    label_fee: Decimal = Decimal(0)
    #: Reasons for which the label is free (the seller's fault: damaged, wrong item).
    free_label_reasons: frozenset[str] = frozenset()
    shipping_refund: ShippingRefund = ShippingRefund.WHOLE_ORDER
    #: Dispositions whose units are not refunded (``damaged`` when the customer broke it).
    unrefunded_dispositions: frozenset[str] = frozenset()
    stores: StoreRules = StoreRules()

    def category(self, sku: str) -> str | None:
        """The SKU's category: the first pattern that matches it."""
        return next((c for pattern, c in self.categories if fnmatch.fnmatchcase(sku, pattern)),
                    None)


_DISPOSITIONS = frozenset({"restock", "quarantine", "damaged", "return_to_vendor"})
_KNOWN = frozenset(attrs.fields_dict(StandardSettings))


def _strings(raw: object, field: str, problems: list[str]) -> frozenset[str]:
    if raw is None:
        return frozenset()
    if isinstance(raw, str) or not isinstance(raw, list | tuple | set | frozenset) \
            or not all(isinstance(x, str) and x for x in raw):
        problems.append(f"{SETTINGS_KEY}.{field}: must be a list of non-empty strings")
        return frozenset()
    return frozenset(raw)


def _money(raw: object, field: str, problems: list[str], *, high: Decimal) -> Decimal:
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        value = Decimal(-1)
    if isinstance(raw, bool) or not value.is_finite() or not Decimal(0) <= value <= high:
        problems.append(f"{SETTINGS_KEY}.{field}: must be a number from 0 to {high}, "
                        f"not {raw!r}")
        return Decimal(0)
    return value


def parse(settings: Mapping[str, Any], problems: list[str]) -> StandardSettings:
    """Read ``settings["returns_standard"]`` (absent: the defaults), appending problems."""
    raw = settings.get(SETTINGS_KEY, {})
    if not isinstance(raw, Mapping):
        problems.append(f"{SETTINGS_KEY}: must be a mapping")
        return StandardSettings()
    for key in sorted(set(raw) - _KNOWN):
        problems.append(f"{SETTINGS_KEY}.{key}: unknown setting")
    days = raw.get("window_days", 30)
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 3650:
        problems.append(f"{SETTINGS_KEY}.window_days: must be a whole number of days from 0 "
                        f"to 3650, not {days!r}")
        days = 30
    categories = raw.get("categories", {})
    if not isinstance(categories, Mapping) or not all(
            isinstance(k, str) and k and isinstance(v, str) and v
            for k, v in categories.items()):
        problems.append(f"{SETTINGS_KEY}.categories: must map SKU patterns to category names")
        categories = {}
    refund = raw.get("shipping_refund", ShippingRefund.WHOLE_ORDER.value)
    if refund not in {s.value for s in ShippingRefund}:
        problems.append(f"{SETTINGS_KEY}.shipping_refund: must be one of "
                        f"{', '.join(s.value for s in ShippingRefund)}, not {refund!r}")
        refund = ShippingRefund.WHOLE_ORDER.value
    unrefunded = _strings(raw.get("unrefunded_dispositions"), "unrefunded_dispositions",
                          problems)
    for d in sorted(unrefunded - _DISPOSITIONS):
        problems.append(f"{SETTINGS_KEY}.unrefunded_dispositions: {d!r} is not a disposition")
    flags = {}
    for name in ("require_reason",):
        value = raw.get(name, False)
        if not isinstance(value, bool):
            problems.append(f"{SETTINGS_KEY}.{name}: must be true or false")
            value = False
        flags[name] = value
    stores = _stores(raw.get("stores", {}), problems)
    return StandardSettings(
        window_days=days,
        reasons=_strings(raw.get("reasons"), "reasons", problems),
        require_reason=flags["require_reason"],
        categories=tuple(dict(categories).items()),
        non_returnable_categories=_strings(raw.get("non_returnable_categories"),
                                           "non_returnable_categories", problems),
        channels=_strings(raw.get("channels"), "channels", problems),
        restocking_fee_percent=_money(raw.get("restocking_fee_percent", 0),
                                      "restocking_fee_percent", problems, high=Decimal(100)),
        restocking_fee_reasons=_strings(raw.get("restocking_fee_reasons"),
                                        "restocking_fee_reasons", problems),
        label_fee=_money(raw.get("label_fee", 0), "label_fee", problems,
                         high=Decimal(10_000)),
        free_label_reasons=_strings(raw.get("free_label_reasons"), "free_label_reasons",
                                    problems),
        shipping_refund=ShippingRefund(refund), unrefunded_dispositions=unrefunded,
        stores=stores)


def _stores(raw: object, problems: list[str]) -> StoreRules:
    if not isinstance(raw, Mapping):
        problems.append(f"{SETTINGS_KEY}.stores: must be a mapping")
        return StoreRules()
    for key in sorted(set(raw) - {"accept", "other_stores", "order_channels"}):
        problems.append(f"{SETTINGS_KEY}.stores.{key}: unknown setting")
    flags: dict[str, bool] = {}
    for name in ("accept", "other_stores"):
        value = raw.get(name, True)
        if not isinstance(value, bool):
            problems.append(f"{SETTINGS_KEY}.stores.{name}: must be true or false")
            value = True
        flags[name] = value
    return StoreRules(accept=flags["accept"], other_stores=flags["other_stores"],
                      order_channels=_strings(raw.get("order_channels"),
                                              "stores.order_channels", problems))


_cache: dict[int, tuple[Mapping[str, Any], StandardSettings]] = {}


def standard_settings(settings: Mapping[str, Any]) -> StandardSettings:
    """The parsed settings (cached per settings mapping; problems are reported by
    :func:`validate` at ``bootstrap``, so defaults stand in for bad values here)."""
    found = _cache.get(id(settings))
    if found is not None and found[0] is settings:
        return found[1]
    parsed = parse(settings, [])
    if len(_cache) > 64:  # settings mappings are few; never grow without bound
        _cache.clear()
    _cache[id(settings)] = (settings, parsed)
    return parsed


def validate(settings: Mapping[str, Any]) -> list[str]:
    """Every problem with ``settings["returns_standard"]``."""
    problems: list[str] = []
    parse(settings, problems)
    return problems
