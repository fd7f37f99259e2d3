"""Registries of plugin contributions, keyed by a stable code, built from the kinds table."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Generic, TypeVar

import attrs

from omskit.domain.errors import DuplicateContribution, NotFound, PluginError
from omskit.kinds import KINDS, ContributionKind

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


class Registries:
    """One :class:`Registry` per contribution kind, built from the kinds table."""

    def __init__(self, kinds: Iterable[ContributionKind[Any]] = KINDS) -> None:
        self._kinds = tuple(kinds)
        self._by_name: dict[str, Registry[Any]] = {
            kind.name: Registry(kind.name, kind.not_found) for kind in self._kinds}

    @property
    def kinds(self) -> tuple[ContributionKind[Any], ...]:
        """The kinds these registries hold, in collection order."""
        return self._kinds

    def __getitem__(self, kind: ContributionKind[T]) -> Registry[T]:
        return self._by_name[kind.name]

    def add(self, kind: ContributionKind[T], item: T, plugin: str) -> None:
        """Check ``item`` against its kind, then add it under its code.

        A misfit raises :class:`PluginError` naming ``plugin``; a taken code raises
        :class:`DuplicateContribution` naming both plugins, and so does a clash of what
        the kind says both claim (``ContributionKind.clash``).
        """
        problems = kind.misfits(item)
        if problems:
            raise PluginError(f"plugin {plugin!r} registered a {kind.name} that does not fit "
                              f"omskit's contract ({item!r}): {'; '.join(problems)}")
        if kind.clash is not None:
            # Codes alone may differ while what they claim overlaps (a channel connector's
            # namespace of order channels): the second claimant is refused like a taken code.
            for entry in self[kind].contributions():
                clash = kind.clash(entry.item, item)
                if clash is not None:
                    raise DuplicateContribution(kind.name, clash, entry.plugin, plugin)
        self[kind].add(kind.key(item), item, plugin)

    def by_plugin(self) -> Mapping[str, Mapping[str, tuple[str, ...]]]:
        """What each plugin contributed: ``{plugin: {kind: (code, ...)}}``, codes sorted."""
        found: dict[str, dict[str, list[str]]] = {}
        for kind in self._kinds:
            for entry in self[kind].contributions():
                found.setdefault(entry.plugin, {}).setdefault(kind.name, []).append(entry.code)
        return {plugin: {kind: tuple(codes) for kind, codes in kinds.items()}
                for plugin, kinds in found.items()}
