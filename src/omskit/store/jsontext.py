"""JSON text for JSON columns: the serialiser of the engines omskit creates, and of the rows
PostgreSQL's backend sends as JSON documents."""

from __future__ import annotations

import json
from typing import Any

import orjson

#: orjson leaves these to ``json_dumps``'s fallback, so a value the standard library would
#: refuse (a datetime in metadata) is still refused rather than silently stringified.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def json_dumps(value: Any) -> str:
    """Serialise a JSON column's value: orjson, several times faster than the standard
    library on the documents every placement writes (order parts, events, explanations);
    anything orjson will not take (an integer beyond 64 bits, a non-string key) goes to
    ``json.dumps``, so what is accepted and how it reads back do not change."""
    try:
        return orjson.dumps(value, option=_ORJSON_OPTIONS).decode()
    except TypeError:
        return json.dumps(value)
