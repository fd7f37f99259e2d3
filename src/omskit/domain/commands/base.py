"""The base of every command: fields declare their shared check, one place runs them all."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ClassVar

import attrs

from omskit.domain.checks import (
    check_code,
    check_identifier,
    check_location_code,
    check_moment,
    check_quantity,
    check_text,
    refuse,
)

#: A shared validator: appends ``"field: message"`` problems for a bad ``value``.
Check = Callable[[object, str, list[str]], None]

#: Field metadata key naming the shared check of a command's field.
CHECK = "omskit.check"
#: Field metadata key: None is a valid value of the field (its check is skipped then).
OPTIONAL = "omskit.optional"


def checked(check: Check, *, optional: bool = False, **kwargs: Any) -> Any:
    """An attrs field checked by ``check`` when its command is built (``optional``: None
    passes); other keyword arguments go to :func:`attrs.field`."""
    return attrs.field(metadata={CHECK: check, OPTIONAL: optional}, **kwargs)


def identifier(**kwargs: Any) -> Any:
    """A field holding an identifier (ids, SKUs, codes of holds, idempotency keys)."""
    return checked(check_identifier, **kwargs)


def location_code(**kwargs: Any) -> Any:
    """A field holding a location code."""
    return checked(check_location_code, **kwargs)


def code(**kwargs: Any) -> Any:
    """A field holding a lower-case code (channels, segments)."""
    return checked(check_code, **kwargs)


def text(**kwargs: Any) -> Any:
    """A field holding bounded free text (reasons, references): ``""`` by default."""
    kwargs.setdefault("default", "")
    return checked(check_text, **kwargs)


def quantity(*, minimum: int = 1, **kwargs: Any) -> Any:
    """A field holding whole units from ``minimum`` up to ``MAX_LINE_QUANTITY``."""
    return checked(functools.partial(check_quantity, minimum=minimum), **kwargs)


def moment(**kwargs: Any) -> Any:
    """A field holding a timezone-aware datetime in omskit's range."""
    return checked(check_moment, **kwargs)


def idempotency_key() -> Any:
    """The optional ``idempotency_key`` of a command that may be retried: a second command
    with the same key changes nothing."""
    return identifier(optional=True, default=None)


@attrs.frozen(kw_only=True)
class Command:
    """Something a caller asks omskit to write, checked for shape when it is built.

    Building a command runs the shared check of every field (declared with :func:`checked`
    and its shorthands) and then :meth:`check`, and raises :class:`InvalidCommand` listing
    every problem at once; a command that exists is well-formed. ``oms.execute(command)``
    runs it; ``oms.command(name, payload)`` builds one from JSON.
    """

    #: The command's name in ``oms.command(name, payload)`` (``"receive_stock"``).
    name: ClassVar[str] = ""
    #: What :class:`InvalidCommand` says was invalid (``"invalid receipt: ..."``).
    subject: ClassVar[str] = "command"

    def __attrs_post_init__(self) -> None:
        problems: list[str] = []
        for field in attrs.fields(type(self)):
            check: Check | None = field.metadata.get(CHECK)
            value = getattr(self, field.name)
            if check is None or (value is None and field.metadata.get(OPTIONAL)):
                continue
            check(value, field.name, problems)
        self.check(problems)
        refuse(problems, self.subject)

    def check(self, problems: list[str]) -> None:
        """Append problems no single field's check can see (two fields that must differ);
        runs after the field checks. Nothing by default."""


__all__ = [
    "CHECK",
    "OPTIONAL",
    "Check",
    "Command",
    "checked",
    "code",
    "idempotency_key",
    "identifier",
    "location_code",
    "moment",
    "quantity",
    "text",
]
