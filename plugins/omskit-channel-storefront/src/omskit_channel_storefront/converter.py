"""The strict cattrs converter that structures a payload into :class:`OrderPayload`.

It differs from omskit's own converter (which reads omskit's rows and events) in being
unforgiving about outside input: unknown keys are refused, scalars are checked by
:data:`~omskit_channel_storefront.fields.FIELD_CHECKS` instead of coerced, arrays must be
arrays, and checks that look across fields run even when other fields are broken, so one
reply lists every problem. A connector builds its own converter with
:func:`make_payload_converter`; there is no module-global one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs
import cattrs
from cattrs.errors import ClassValidationError, IterableValidationError, IterableValidationNote
from cattrs.gen import make_dict_structure_fn
from omskit import MAX_LINES, MINOR_UNITS, decimal_places

from omskit_channel_storefront import payload as shape
from omskit_channel_storefront.fields import (
    FIELD_CHECKS,
    Identifier,
    structure_amount,
    structure_text,
)
from omskit_channel_storefront.problems import InvalidField, at, show

#: Most tags on one order.
MAX_TAGS = 50
#: Most entries in ``attributes``.
MAX_ATTRIBUTES = 50
#: What an ``attributes`` key may look like.
ATTRIBUTE_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,64}")

#: A cross-field check: given the raw object, yield ``(relative path, message)`` pairs.
CrossCheck = Callable[[Mapping[str, Any]], Iterator[tuple[str, str]]]
StructureHook = Callable[[Any, Any], Any]


def _order_checks(raw: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """Rules that tie several fields of the order together."""
    fulfillment = raw.get("fulfillment")
    if (isinstance(fulfillment, Mapping) and fulfillment.get("type") == "ship"
            and raw.get("shipping_address") is None):
        yield "shipping_address", "required when fulfillment.type is 'ship'"
    items = raw.get("items")
    if isinstance(items, list | tuple) and len(items) <= MAX_LINES:
        # omskit numbers a line without a line_id by its position, so an explicit "2" on
        # another line would collide with it; check the ids the order will really have.
        seen: set[str] = set()
        for i, item in enumerate(items):
            if not isinstance(item, Mapping):
                continue
            line_id = item.get("line_id")
            explicit = line_id if isinstance(line_id, str) and line_id else None
            effective = explicit or str(i + 1)
            if effective in seen:
                yield f"items[{i}].line_id", (
                    f"{effective!r} is used by an earlier item" if explicit is not None else
                    f"missing, so omskit would number the line {effective!r}, which an "
                    "earlier item uses")
            seen.add(effective)
    yield from _price_checks(raw.get("currency"), items)


def _price_checks(currency: object, items: object) -> Iterator[tuple[str, str]]:
    """Each item's ``unit_price`` has no more decimals than the currency has minor units
    (no ``"100.5"`` in JPY). Prices or a currency that are malformed are reported by their
    own fields' checks."""
    if not isinstance(currency, str) or currency not in MINOR_UNITS:
        return
    if not isinstance(items, list | tuple) or len(items) > MAX_LINES:
        return
    units = MINOR_UNITS[currency]
    for i, item in enumerate(items):
        price = item.get("unit_price") if isinstance(item, Mapping) else None
        try:
            amount = structure_amount(price)
        except InvalidField:
            continue
        if decimal_places(amount) > units:
            yield f"items[{i}].unit_price", (
                f"{show(price)} has more decimals than {currency} allows ({units})")


def _address_checks(raw: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """``lat`` and ``lon`` are a pair."""
    has_lat, has_lon = raw.get("lat") is not None, raw.get("lon") is not None
    if has_lat and not has_lon:
        yield "lon", "required when lat is given"
    if has_lon and not has_lat:
        yield "lat", "required when lon is given"


def _edit_checks(raw: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """An edit changes something, and names each line once."""
    if not any(raw.get(key) for key in ("items", "add_items", "shipping_address",
                                        "fulfillment")):
        yield "items", ("the edit changes nothing: give items, add_items, shipping_address "
                        "or fulfillment")
    for key in ("items", "add_items"):
        listed = raw.get(key)
        if not isinstance(listed, list | tuple) or len(listed) > MAX_LINES:
            continue
        seen: set[str] = set()
        for i, item in enumerate(listed):
            line_id = item.get("line_id") if isinstance(item, Mapping) else None
            if isinstance(line_id, str) and line_id:
                if line_id in seen:
                    yield f"{key}[{i}].line_id", f"{line_id!r} is listed twice"
                seen.add(line_id)


#: Cross-field checks per payload class.
CROSS_CHECKS: dict[type, CrossCheck] = {
    shape.OrderPayload: _order_checks,
    shape.AddressPayload: _address_checks,
    shape.EditPayload: _edit_checks,
}


def _is_payload_class(cls: Any) -> bool:
    return isinstance(cls, type) and attrs.has(cls) and cls.__module__ == shape.__name__


def _object_hook(cls: type, converter: cattrs.Converter) -> StructureHook:
    """Structure a payload class: demand an object, then add its cross-field checks.

    The cross-field checks read the raw object, not the structured one, so they run even
    when another field of the same object is broken.
    """
    generated: StructureHook = make_dict_structure_fn(cls, converter)
    checks = CROSS_CHECKS.get(cls)

    def structure(value: Any, _type: Any) -> Any:
        if not isinstance(value, Mapping):
            raise InvalidField(f"must be an object, not {show(value)}")
        errors: list[Exception] = []
        result = None
        try:
            result = generated(value, cls)
        except ClassValidationError as exc:
            errors.extend(exc.exceptions)
        for subpath, message in checks(value) if checks else ():
            errors.append(InvalidField(message, subpath=subpath))
        if errors:
            raise ClassValidationError(f"While structuring {cls.__name__}", errors, cls)
        return result

    return structure


def _fulfillment_hook(converter: cattrs.Converter) -> StructureHook:
    """Pick the fulfilment class named by ``type`` (a tagged union with clear errors)."""
    kinds: dict[str, type] = {"ship": shape.ShipFulfillment, "pickup": shape.PickupFulfillment}

    def structure(value: Any, _type: Any) -> Any:
        if not isinstance(value, Mapping):
            raise InvalidField(f"must be an object, not {show(value)}")
        kind = value.get("type")
        if "type" not in value:
            problem = at("type", "required")
        elif not isinstance(kind, str) or kind not in kinds:
            problem = at("type", f"{show(kind)} is not one of "
                                 + ", ".join(repr(k) for k in kinds))
        else:
            return converter.structure(value, kinds[kind])
        raise ClassValidationError("While structuring fulfillment", [problem], dict)

    return structure


def _array_hook(converter: cattrs.Converter, element: Any, *, noun: str, maximum: int,
                empty: str | None = None) -> StructureHook:
    """A JSON array of at most ``maximum`` ``element`` s, structured as a tuple.

    ``empty``, if given, is the problem reported for an empty array.

    cattrs would iterate any iterable (a string becomes its characters); only a real array
    is accepted. The length is checked first so that a huge array is refused unread.
    """

    def structure(value: Any, _type: Any) -> tuple[Any, ...]:
        if not isinstance(value, list | tuple):
            raise InvalidField(f"must be an array, not {show(value)}")
        if not value and empty is not None:
            raise InvalidField(empty)
        if len(value) > maximum:
            raise InvalidField(f"must list at most {maximum} {noun}, not {len(value)}")
        return tuple(converter.structure(list(value), list[element]))

    return structure


def _structure_attributes(value: Any, _type: Any) -> dict[str, str]:
    """``attributes``: an object of at most ``MAX_ATTRIBUTES`` short keys to strings."""
    if not isinstance(value, Mapping):
        raise InvalidField(f"must be an object, not {show(value)}")
    if len(value) > MAX_ATTRIBUTES:
        raise InvalidField(f"must have at most {MAX_ATTRIBUTES} entries, not {len(value)}")
    result: dict[str, str] = {}
    errors: list[Exception] = []
    for key, item in value.items():
        if not isinstance(key, str) or not ATTRIBUTE_KEY.fullmatch(key):
            errors.append(InvalidField(f"key {show(key)} must be 1 to 64 letters, digits, "
                                       "'_', '.', ':' or '-'"))
            continue
        try:
            result[key] = structure_text(item)
        except InvalidField as exc:
            exc.__notes__ = [IterableValidationNote(f"@ key {key}", key, str)]
            errors.append(exc)
    if errors:
        raise IterableValidationError("While structuring attributes", errors, dict)
    return result


def _is(expected: Any) -> Callable[[Any], bool]:
    """A predicate matching exactly ``expected`` (for hooks on parametrised generics)."""

    def predicate(candidate: Any) -> bool:
        return bool(candidate == expected)

    return predicate


def make_payload_converter() -> cattrs.Converter:
    """A new converter that structures (and only structures) :class:`OrderPayload` and
    :class:`EditPayload`."""
    converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    for field_type, check in FIELD_CHECKS.items():
        converter.register_structure_hook(field_type, check)
    converter.register_structure_hook_factory(_is_payload_class, _object_hook)
    converter.register_structure_hook(shape.FulfillmentPayload, _fulfillment_hook(converter))
    generic_hooks: dict[Any, StructureHook] = {
        shape.Items: _array_hook(converter, shape.ItemPayload, noun="items",
                                 maximum=MAX_LINES, empty="an order needs at least one item"),
        shape.Tags: _array_hook(converter, Identifier, noun="tags", maximum=MAX_TAGS),
        shape.ItemChanges: _array_hook(converter, shape.ItemChangePayload, noun="items",
                                       maximum=MAX_LINES),
        shape.AddedItems: _array_hook(converter, shape.AddedItemPayload, noun="items",
                                      maximum=MAX_LINES),
        shape.Attributes: _structure_attributes,
    }
    for generic_type, hook in generic_hooks.items():
        # Parametrised generics (tuple[X, ...]) are not classes that singledispatch could
        # look up, so they are matched by equality.
        converter.register_structure_hook_func(_is(generic_type), hook)
    return converter
