"""Reading a channel's JSON payload strictly, for connector plugins: each reader returns the
value or records one problem, ``path: message``, so one ``PayloadError`` lists everything wrong
with a payload (a sale, an order, an edit)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from omskit.domain.checks import EARLIEST_MOMENT, LATEST_MOMENT, LOCATION_CODE_PATTERN
from omskit.domain.commands import (
    CODE_PATTERN,
    MAX_ID_LENGTH,
    MAX_LINE_QUANTITY,
    MAX_TEXT_LENGTH,
    MAX_UNIT_PRICE,
)

_AMOUNT = re.compile(r"[0-9]{1,12}(\.[0-9]{1,4})?")


class PayloadReader:
    """Reads one channel payload strictly and collects the problems found: each method
    returns the value read (or a harmless default) and records ``path: message`` for what is
    wrong, so a connector raises one ``PayloadError`` listing every problem."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, path: str, message: str) -> None:
        """Record a problem at ``path``."""
        self.problems.append(f"{path}: {message}")

    def object(self, value: Any, path: str,
               allowed: set[str] | None = None) -> Mapping[str, Any]:
        """A JSON object; with ``allowed``, only those keys (an unknown key is a problem).
        Without it every key passes: a marketplace sends many fields a connector has no use
        for."""
        if not isinstance(value, Mapping):
            self.fail(path, f"must be a JSON object, not {type(value).__name__}")
            return {}
        for key in sorted(set(map(str, value)) - (allowed or set(map(str, value)))):
            self.fail(f"{path}.{key}" if path != "payload" else key, "unknown field")
        return value

    def identifier(self, value: Any, path: str) -> str:
        """A non-empty id without control characters or outer spaces."""
        if (not isinstance(value, str) or not value.strip() or value != value.strip()
                or len(value) > MAX_ID_LENGTH or any(ord(c) < 32 for c in value)):
            self.fail(path, f"must be an id like 'R-000123', not {value!r}")
            return ""
        return value

    def code(self, value: Any, path: str) -> str:
        """A lower-case code (``card``, ``cash``)."""
        if not isinstance(value, str) or not CODE_PATTERN.fullmatch(value):
            self.fail(path, f"must be a code like 'card', not {value!r}")
            return ""
        return value

    def location(self, value: Any, path: str) -> str:
        """A location code (``store-milano``)."""
        if not isinstance(value, str) or not LOCATION_CODE_PATTERN.fullmatch(value):
            self.fail(path, f"must be a location code like 'store-milano', not {value!r}")
            return ""
        return value

    def text(self, value: Any, path: str, *, required: bool = False) -> str:
        """One line of text (``required``: not blank)."""
        if (not isinstance(value, str) or len(value) > MAX_TEXT_LENGTH
                or any(ord(c) < 32 for c in value) or (required and not value.strip())):
            self.fail(path, "must be one line of text" + (", not blank" if required else ""))
            return ""
        return value

    def quantity(self, value: Any, path: str) -> int:
        """A whole number of units, 1 up to omskit's line limit."""
        if (isinstance(value, bool) or not isinstance(value, int)
                or not 1 <= value <= MAX_LINE_QUANTITY):
            self.fail(path, f"must be a whole number from 1 to {MAX_LINE_QUANTITY}, "
                            f"not {value!r}")
            return 1
        return value

    def amount(self, value: Any, path: str) -> Decimal:
        """Money as a decimal string (``"19.90"``): never a float."""
        if not isinstance(value, str) or not _AMOUNT.fullmatch(value):
            self.fail(path, f"must be a decimal string like '19.90', not {value!r}")
            return Decimal(0)
        try:
            amount = Decimal(value)
        except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
            self.fail(path, f"must be a decimal string like '19.90', not {value!r}")
            return Decimal(0)
        if amount > MAX_UNIT_PRICE:
            self.fail(path, f"must be at most {MAX_UNIT_PRICE}")
        return amount

    def moment(self, value: Any, path: str) -> datetime | None:
        """An ISO 8601 date-time with a timezone."""
        try:
            moment = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            moment = None
        if (moment is None or moment.utcoffset() is None
                or not EARLIEST_MOMENT <= moment < LATEST_MOMENT):
            self.fail(path, f"must be a date-time with a timezone like "
                            f"'2026-12-04T17:30:00+01:00', not {value!r}")
            return None
        return moment

    def items(self, value: Any, path: str) -> list[Mapping[str, Any]]:
        """A non-empty array of objects."""
        if not isinstance(value, list) or not value:
            self.fail(path, "must be a non-empty array")
            return []
        return value


__all__ = ["PayloadReader"]
