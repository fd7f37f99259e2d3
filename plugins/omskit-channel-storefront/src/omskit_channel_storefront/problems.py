"""Turning structuring failures into ``"path: message"`` problems.

cattrs (with ``detailed_validation``) reports every failure as a tree of exception groups whose
members carry notes naming the attribute or index they came from. This module walks that tree
once and renders every leaf as one problem, with the path written the way the payload is
written (``items[1].quantity``), so a shop sees all its mistakes in one round trip.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from cattrs.errors import (
    AttributeValidationNote,
    BaseValidationError,
    ForbiddenExtraKeysError,
    IterableValidationNote,
)

#: Longest rendering of a rejected value inside a message; payloads can be hostile.
_MAX_SHOWN = 40


class InvalidField(ValueError):
    """One field's value is unacceptable; ``str(exc)`` says why, without the path.

    ``subpath`` is set by checks that look across fields and point below the object they
    were run on (``items[2].line_id`` checked on the order); it is appended to the path.
    """

    def __init__(self, message: str, *, subpath: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.subpath = subpath


class UnexpectedStructuringError(RuntimeError):
    """Structuring failed in a way no check anticipated: a bug, never the shop's fault."""


def show(value: object) -> str:
    """A short, JSON-flavoured rendering of a rejected value for an error message."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "an array"
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def at(name: str, message: str) -> InvalidField:
    """An :class:`InvalidField` noted as coming from attribute ``name`` of a class.

    Lets hand-written hooks report a problem below the value they structure with the same
    notes cattrs' generated code uses, so :func:`problems_from` needs no special case.
    """
    exc = InvalidField(message)
    exc.__notes__ = [AttributeValidationNote(f"@ attribute {name}", name, object)]
    return exc


def _join(path: str, step: str) -> str:
    if not path or step.startswith("["):
        return path + step
    return f"{path}.{step}"


def _step(note: object) -> str | None:
    # Only the structural notes cattrs attaches matter; other notes are free text.
    if type(note) is AttributeValidationNote:
        return note.name
    if type(note) is IterableValidationNote:
        return f"[{note.index}]" if isinstance(note.index, int) else str(note.index)
    return None


def _path_of(exc: BaseException, path: str) -> str:
    # Notes are appended while the exception travels outwards, so the last one is the
    # outermost step; walk them in reverse to build the path from the root downwards.
    steps = [s for s in map(_step, getattr(exc, "__notes__", ())) if s is not None]
    for step in reversed(steps):
        path = _join(path, step)
    return path


def problems_from(exc: BaseException, path: str = "") -> Iterator[str]:
    """Every problem inside ``exc`` as ``"path: message"``; ``path`` is where ``exc`` was raised.

    Raises :class:`UnexpectedStructuringError` for an exception no check produces, since
    reporting a bug as a payload problem would send the shop chasing a mistake it never made.
    """
    if isinstance(exc, BaseValidationError):
        for sub in exc.exceptions:
            yield from problems_from(sub, _path_of(sub, path))
    elif isinstance(exc, InvalidField):
        where = _join(path, exc.subpath) if exc.subpath else path
        yield f"{where or 'payload'}: {exc.message}"
    elif isinstance(exc, ForbiddenExtraKeysError):
        for key in sorted(exc.extra_fields):
            yield f"{_join(path, key)}: unknown field"
    elif isinstance(exc, KeyError):
        yield f"{path}: required"
    else:
        raise UnexpectedStructuringError(f"{path or 'payload'}: {exc!r}") from exc


def as_problems(exc: BaseException) -> list[str]:
    """All problems of a failed structuring of the whole payload."""
    return list(problems_from(exc))

