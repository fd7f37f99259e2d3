"""Shared validators: every value a caller gives omskit is checked by one of these.

Each ``check_*`` function appends ``"field: message"`` problems to a list instead of raising,
so a command or a service method can report every problem at once; :func:`refuse` raises the
:class:`InvalidCommand` at the end. The limits here are omskit's own, the same on every
database, and checked before anything reaches a driver (see ``docs/embedding.md``, "Limits").
"""

from __future__ import annotations

import re

from omskit.domain.errors import InvalidCommand

#: Largest quantity accepted on one line; larger numbers are typing errors or abuse.
MAX_LINE_QUANTITY = 1_000_000
#: Most lines accepted on one order.
MAX_LINES = 500
#: Longest identifier (external id, SKU, channel, customer id, line id).
MAX_ID_LENGTH = 128
#: Longest free-text field (names, address parts, reasons).
MAX_TEXT_LENGTH = 500

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


def typed(value: object, kind: type, field: str, problems: list[str]) -> bool:
    """Append a problem unless ``value`` is a ``kind``; say whether it is."""
    if isinstance(value, kind):
        return True
    problems.append(f"{field}: must be a {kind.__name__}, not {type(value).__name__}")
    return False


__all__ = [
    "CODE_PATTERN",
    "MAX_ID_LENGTH",
    "MAX_LINES",
    "MAX_LINE_QUANTITY",
    "MAX_TEXT_LENGTH",
    "check_code",
    "check_identifier",
    "check_quantity",
    "check_text",
    "encodes",
    "has_control",
    "refuse",
    "typed",
]
