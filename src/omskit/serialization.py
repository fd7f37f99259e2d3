"""The cattrs converter: rows, JSON columns, events and payloads all go through one instance.

There is no module-global converter: every ``Oms`` builds its own with :func:`make_converter`,
then plugins adjust it through ``omskit_configure_converter``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import cattrs
from cattrs.preconf.json import make_converter as make_json_converter

from omskit.domain.errors import InvalidCommand, UnknownEventType
from omskit.domain.events import Event
from omskit.domain.values import to_decimal
from omskit.registries import Registry


def _structure_datetime(value: Any, _type: type) -> datetime:
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, str):
        try:
            result = datetime.fromisoformat(value)
        except ValueError:
            raise InvalidCommand([f"{value!r} is not an ISO 8601 date-time"]) from None
    else:
        raise InvalidCommand([f"{value!r} is not an ISO 8601 date-time"])
    if result.tzinfo is None:
        raise InvalidCommand([f"{value!r} has no timezone (add Z or +01:00)"])
    return result


T = TypeVar("T")


def structure_optional(converter: cattrs.Converter, value: Any, cls: type[T]) -> T | None:
    """``None`` stays ``None``; anything else is structured as ``cls``."""
    return None if value is None else converter.structure(value, cls)


def _isoformat_repeated() -> Callable[[datetime], str]:
    """``datetime.isoformat``, remembering the last datetime object it formatted.

    Every event and row of one operation carries the same timestamp object (a placement's
    dozen events, their rows): it is formatted once. By identity, not equality: two equal
    instants in different time zones are written differently.
    """
    last: list[tuple[datetime | None, str]] = [(None, "")]

    def isoformat(value: datetime) -> str:
        seen, text = last[0]  # one tuple, read and replaced whole: safe across threads
        if value is not seen:
            text = value.isoformat()
            last[0] = (value, text)
        return text

    return isoformat


def make_converter() -> cattrs.Converter:
    """A JSON-ready converter: datetimes as ISO 8601, decimals as strings, enums as values."""
    converter = make_json_converter()
    converter.register_unstructure_hook(datetime, _isoformat_repeated())
    converter.register_structure_hook(datetime, _structure_datetime)
    converter.register_unstructure_hook(Decimal, str)
    converter.register_structure_hook(Decimal, lambda v, _t: to_decimal(v))
    return converter


class EventCodec:
    """Encodes events as a tagged union on ``event_type`` and decodes them back."""

    def __init__(self, converter: cattrs.Converter, event_types: Registry[type[Event]]) -> None:
        self._converter = converter
        self._types = event_types

    def encode(self, event: Event) -> dict[str, Any]:
        """The event as a JSON-ready dict, with its ``event_type``.

        An unregistered type raises ``UnknownEventType`` here, at write time, rather than
        leaving a row that no reader could decode.
        """
        if self._types.get(event.event_type) is not type(event):
            raise UnknownEventType(event.event_type)
        payload: dict[str, Any] = self._converter.unstructure(event)
        payload["event_type"] = event.event_type
        return payload

    def decode(self, payload: Mapping[str, Any]) -> Event:
        """The event class named by ``event_type``, structured from ``payload``."""
        data = dict(payload)
        event_class = self._types.get(data.pop("event_type"))
        return self._converter.structure(data, event_class)
