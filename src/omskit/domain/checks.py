"""Shared validators: every value a caller gives omskit is checked by one of these.

Each ``check_*`` function appends ``"field: message"`` problems to a list instead of raising,
so a command or a service method can report every problem at once; :func:`refuse` raises the
:class:`InvalidCommand` at the end. The limits here are omskit's own, the same on every
database, and checked before anything reaches a driver (see ``docs/embedding.md``, "Limits").
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime

from omskit.domain.errors import InvalidCommand
from omskit.domain.values import Address, Coordinates

#: Largest quantity accepted on one line; larger numbers are typing errors or abuse.
MAX_LINE_QUANTITY = 1_000_000
#: Most lines accepted on one order.
MAX_LINES = 500
#: Longest identifier (external id, SKU, channel, customer id, line id).
MAX_ID_LENGTH = 128
#: Longest free-text field (names, address parts, reasons).
MAX_TEXT_LENGTH = 500

#: Most tags on one order.
MAX_TAGS = 100
#: Most groups one location belongs to.
MAX_GROUPS = 100

#: Deepest nesting of a JSON document a caller gives (order metadata): 32 levels.
MAX_JSON_DEPTH = 32
#: Most values (objects, arrays, scalars) in such a document; its size is bounded too.
MAX_JSON_VALUES = 100_000

#: Most units on hand in one stock row (location × SKU): PostgreSQL's ``integer``, enforced
#: by omskit on every database before the driver (``StockLimitExceeded``).
MAX_STOCK_UNITS = 2**31 - 1

#: Location codes are what retailers use: letters of either case (kept as given), digits
#: and ``_ . : -``, starting with a letter or digit (``WA-0000``, ``DC01``, ``ST_042``,
#: ``dc-milan``). Codes are compared exactly: ``DC01`` and ``dc01`` are two locations.
LOCATION_CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")

#: Earliest moment accepted from a caller (inclusive, UTC).
EARLIEST_MOMENT = datetime(1900, 1, 1, tzinfo=UTC)
#: Latest moment accepted from a caller (exclusive, UTC). Far from the ends of what Python
#: (years 1..9999) and PostgreSQL can read back, whatever the offset and whatever omskit
#: adds to it (a cart's time-to-live, processing and transit days).
LATEST_MOMENT = datetime(3000, 1, 1, tzinfo=UTC)

#: Codes (channels, segments, groups) are lower-case words joined by ``_ . : -``.
CODE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.:-]*$")


def refuse(problems: list[str], subject: str) -> None:
    """Raise :class:`InvalidCommand` about ``subject`` if any problem was found."""
    if problems:
        raise InvalidCommand(problems, subject=subject)


def has_control(text: str) -> bool:
    """Whether ``text`` holds a C0 or C1 control character (NUL included)."""
    return any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in text)


def encodes(value: str) -> bool:
    """Whether ``value`` is valid Unicode: lone surrogates (what a lenient JSON decoder
    makes of a bad escape) cannot be stored."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_identifier(value: object, field: str, problems: list[str]) -> None:
    """Append a problem unless ``value`` is a non-empty, printable, bounded identifier."""
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{field}: must be a non-empty string")
    elif not encodes(value):
        problems.append(f"{field}: must be valid Unicode")
    elif len(value) > MAX_ID_LENGTH:
        problems.append(f"{field}: longer than {MAX_ID_LENGTH} characters")
    elif has_control(value) or value != value.strip():
        problems.append(f"{field}: must not contain control characters or edge spaces")


def check_code(value: object, field: str, problems: list[str]) -> None:
    """Append a problem unless ``value`` is a lower-case code such as ``web`` or ``gold``."""
    if not isinstance(value, str) or not CODE_PATTERN.match(value) or len(value) > MAX_ID_LENGTH:
        problems.append(f"{field}: {value!r} is not a code like 'web' or 'dc-milan'")


def check_location_code(value: object, field: str, problems: list[str]) -> None:
    """Append a problem unless ``value`` is a location code such as ``WA-0000``, ``DC01``,
    ``ST_042`` or ``dc-milan`` (see :data:`LOCATION_CODE_PATTERN`)."""
    if (not isinstance(value, str) or len(value) > MAX_ID_LENGTH
            or not LOCATION_CODE_PATTERN.match(value)):
        problems.append(f"{field}: {value!r} is not a location code like 'DC01' or "
                        "'dc-milan' (letters, digits, '_', '.', ':', '-')")


def check_text(value: object, field: str, problems: list[str]) -> None:
    """Append a problem unless ``value`` is a bounded string without control characters."""
    if not isinstance(value, str):
        problems.append(f"{field}: must be a string")
    elif not encodes(value):
        problems.append(f"{field}: must be valid Unicode")
    elif len(value) > MAX_TEXT_LENGTH:
        problems.append(f"{field}: longer than {MAX_TEXT_LENGTH} characters")
    elif has_control(value.replace("\n", " ")):
        problems.append(f"{field}: must not contain control characters")


def check_quantity(value: object, field: str, problems: list[str], *, minimum: int = 1) -> None:
    """Append a problem unless ``value`` is a whole number in ``minimum .. MAX_LINE_QUANTITY``."""
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(f"{field}: must be a whole number, not {value!r}")
    elif not minimum <= value <= MAX_LINE_QUANTITY:
        problems.append(f"{field}: {value} is outside {minimum}..{MAX_LINE_QUANTITY}")


def check_count(value: object, field: str, problems: list[str], *, minimum: int,
                maximum: int) -> None:
    """Append a problem unless ``value`` is a whole number (not a bool) in
    ``minimum .. maximum``: a page size, a limit, an offset."""
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(f"{field}: must be a whole number, not {value!r}")
    elif not minimum <= value <= maximum:
        problems.append(f"{field}: {value} is outside {minimum}..{maximum}")


def check_moment(value: object, field: str, problems: list[str]) -> None:
    """Append a problem unless ``value`` is a timezone-aware ``datetime`` from
    ``EARLIEST_MOMENT`` (1900) up to ``LATEST_MOMENT`` (3000, excluded).

    Every datetime a caller gives goes through this: a naive one would be read in whatever
    zone the server has, and one near year 1 or 9999 (``9999-12-31T23:59:59-01:00``) is
    stored by PostgreSQL as year 10000 and can never be read back.
    """
    if not isinstance(value, datetime):
        problems.append(f"{field}: must be a timezone-aware datetime, not {value!r}")
        return
    try:
        offset = value.utcoffset()
    except (ValueError, TypeError):  # a broken tzinfo: an offset of 24 h or more, say
        offset = None
    if offset is None:
        problems.append(f"{field}: must be timezone-aware, not the naive {value.isoformat()}")
    elif not EARLIEST_MOMENT <= value < LATEST_MOMENT:
        problems.append(f"{field}: {value.isoformat()} is outside "
                        f"{EARLIEST_MOMENT:%Y-%m-%d}..{LATEST_MOMENT:%Y-%m-%d} (UTC)")


def check_date(value: object, field: str, problems: list[str]) -> None:
    """Append a problem unless ``value`` is a ``date`` (not a ``datetime``) in the range of
    :func:`check_moment`."""
    if not isinstance(value, date) or isinstance(value, datetime):
        problems.append(f"{field}: must be a date, not {value!r}")
    elif not EARLIEST_MOMENT.date() <= value < LATEST_MOMENT.date():
        problems.append(f"{field}: {value.isoformat()} is outside "
                        f"{EARLIEST_MOMENT:%Y-%m-%d}..{LATEST_MOMENT:%Y-%m-%d}")


def check_address(address: Address, field: str, problems: list[str]) -> None:
    """Append a problem for each field of ``address`` that is not bounded text, for an empty
    ``line1`` or ``city``, and for ``coordinates`` that are not :class:`Coordinates`."""
    if address.coordinates is not None:
        typed(address.coordinates, Coordinates, f"{field}.coordinates", problems)
    for name in ("line1", "city"):
        value = getattr(address, name)
        check_text(value, f"{field}.{name}", problems)
        if isinstance(value, str) and not value.strip():
            problems.append(f"{field}.{name}: must not be empty")
    for name in ("line2", "postal_code", "region", "name"):
        check_text(getattr(address, name), f"{field}.{name}", problems)


def check_json(value: object, field: str, problems: list[str], *,
               max_depth: int = MAX_JSON_DEPTH, max_values: int = MAX_JSON_VALUES) -> None:
    """Append a problem unless ``value`` is a JSON document both databases store and give
    back unchanged: objects with string keys, arrays, strings, finite numbers, booleans and
    null, at most ``max_depth`` levels deep and ``max_values`` values, no NUL character and
    no lone surrogate anywhere.

    Walks the document with an explicit stack, not recursion: 400 nested levels (2.8 KB)
    once raised ``RecursionError``; a document that contains itself ends at the depth limit.
    """
    stack: list[tuple[object, int, str]] = [(value, 1, field)]
    seen = 0
    nul = False
    while stack:
        item, depth, path = stack.pop()
        seen += 1
        if seen > max_values:
            problems.append(f"{field}: more than {max_values} values")
            return
        if depth > max_depth:
            problems.append(f"{field}: nested deeper than {max_depth} levels (at {path})")
            return
        if isinstance(item, str):
            if not encodes(item):
                problems.append(f"{field}: must be valid Unicode (at {path})")
                return
            nul = nul or "\x00" in item
        elif isinstance(item, Mapping):
            for key, child in item.items():
                if not isinstance(key, str):
                    problems.append(f"{field}: not JSON-serialisable (key {key!r} at {path} "
                                    "is not a string)")
                    return
                if not encodes(key):
                    problems.append(f"{field}: must be valid Unicode (a key at {path})")
                    return
                nul = nul or "\x00" in key
                stack.append((child, depth + 1, f"{path}.{key}"))
        elif isinstance(item, list | tuple):
            stack.extend((child, depth + 1, f"{path}[{i}]") for i, child in enumerate(item))
        elif isinstance(item, float) and not math.isfinite(item):
            # Not JSON: PostgreSQL's jsonb refuses NaN and infinity, SQLite would store them.
            problems.append(f"{field}: not JSON-serialisable ({item} at {path})")
            return
        elif item is not None and not isinstance(item, bool | int | float):
            problems.append(f"{field}: not JSON-serialisable ({type(item).__name__} at {path})")
            return
    if nul:
        # PostgreSQL's jsonb cannot store NUL; SQLite would, and the two must agree.
        problems.append(f"{field}: must not contain NUL characters")


#: Most values in a filter (SKUs, location codes) of one call.
MAX_FILTER_VALUES = 10_000


def check_each(values: object, field: str, check: Callable[[object, str, list[str]], None],
               problems: list[str], *, maximum: int = MAX_FILTER_VALUES) -> list[str] | None:
    """A filter of SKUs or codes as a sorted list without repeats (None: no filter).

    Appends a problem for a string or bytes (a common slip for ``[sku]``), a value that is
    not a collection, more than ``maximum`` values, or a value ``check`` refuses (reporting
    the first five); returns None then.
    """
    if values is None:
        return None
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        problems.append(f"{field}: must be a collection of strings, not {values!r}")
        return None
    found = list(values)
    if len(found) > maximum:
        problems.append(f"{field}: more than {maximum} values")
        return None
    before = len(problems)
    for value in found:
        check(value, f"{field}[]", problems)
        if len(problems) - before >= 5:
            problems.append(f"{field}: further values not checked")
            return None
    return None if len(problems) > before else sorted(set(found))


def typed(value: object, kind: type, field: str, problems: list[str]) -> bool:
    """Append a problem unless ``value`` is a ``kind``; say whether it is."""
    if isinstance(value, kind):
        return True
    problems.append(f"{field}: must be a {kind.__name__}, not {type(value).__name__}")
    return False


__all__ = [
    "CODE_PATTERN",
    "EARLIEST_MOMENT",
    "LATEST_MOMENT",
    "LOCATION_CODE_PATTERN",
    "MAX_FILTER_VALUES",
    "MAX_GROUPS",
    "MAX_ID_LENGTH",
    "MAX_JSON_DEPTH",
    "MAX_JSON_VALUES",
    "MAX_LINES",
    "MAX_LINE_QUANTITY",
    "MAX_STOCK_UNITS",
    "MAX_TAGS",
    "MAX_TEXT_LENGTH",
    "check_address",
    "check_code",
    "check_count",
    "check_date",
    "check_each",
    "check_identifier",
    "check_json",
    "check_location_code",
    "check_moment",
    "check_quantity",
    "check_text",
    "encodes",
    "has_control",
    "refuse",
    "typed",
]
