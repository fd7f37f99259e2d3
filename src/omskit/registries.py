"""Registries of plugin contributions, keyed by a stable code."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

import attrs

from omskit.domain.errors import DuplicateContribution, NotFound

T = TypeVar("T")


@attrs.frozen(kw_only=True)
class Contribution(Generic[T]):
    """One contributed object and the plugin that contributed it."""

    code: str
    item: T
    plugin: str


@attrs.define
class Registry(Generic[T]):
    """Contributions of one kind (channels, routing strategies...) keyed by code."""

    kind: str
    not_found: type[NotFound] = NotFound
    _entries: dict[str, Contribution[T]] = attrs.field(factory=dict, init=False)

    def add(self, code: str, item: T, plugin: str) -> None:
        """Add ``item``; a code already taken raises :class:`DuplicateContribution`."""
        if code in self._entries:
            raise DuplicateContribution(self.kind, code, self._entries[code].plugin, plugin)
        self._entries[code] = Contribution(code=code, item=item, plugin=plugin)

    def get(self, code: str) -> T:
        """The item with this code, or the registry's :class:`NotFound` subclass."""
        entry = self._entries.get(code) if isinstance(code, str) else None
        if entry is None:
            raise self.not_found(repr(code) if not isinstance(code, str) else code)
        return entry.item

    def contributions(self) -> list[Contribution[T]]:
        """Every contribution, sorted by code."""
        return [self._entries[code] for code in sorted(self._entries)]

    def __contains__(self, code: object) -> bool:
        return code in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def __len__(self) -> int:
        return len(self._entries)
