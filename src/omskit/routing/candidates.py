"""The eligible, priced candidates of one routing decision as a strategy receives them, with
the same data as NumPy arrays for the optimiser (kept out of the domain, which imports only
the standard library and attrs).

Prices are summed per candidate as arrays (one pass over the cost terms, not an object per
candidate and term); a priced :class:`~omskit.domain.routing.Candidate` is built only when a
strategy, the check or the explanation reads it, so a decision over a thousand candidates
that uses three of them builds a few dozen, not a thousand.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import overload

import attrs
import numpy as np

from omskit.domain.routing import Candidate, CostTerm


@attrs.frozen(kw_only=True, eq=False)
class CandidateArrays:
    """Candidates as NumPy arrays: rows in candidate order, columns in ``skus`` order."""

    skus: tuple[str, ...]
    available: np.ndarray
    unit: np.ndarray
    fixed: np.ndarray


class PricedCandidates(Sequence[Candidate]):
    """The eligible, priced candidates of one decision, as the engine hands them to a
    strategy: a read-only sequence of priced :class:`Candidate`\\ s (each built on first
    access), plus the same data as arrays (:meth:`arrays`)."""

    __slots__ = ("_arrays", "_built", "_codes", "_fixed_list", "_index", "_raw", "_term_idx",
                 "_terms", "_terms_of", "_unit_list")

    def __init__(self, eligible: Sequence[Candidate], terms: Sequence[CostTerm],
                 skus: Sequence[str], available: Sequence[Sequence[int]] | None = None) -> None:
        """Price ``eligible`` (unpriced candidates) with ``terms`` for the SKUs ``skus``;
        ``available`` (rows per candidate, columns per SKU) saves reading it again."""
        self._raw: tuple[Candidate, ...] = tuple(eligible)
        n = len(self._raw)
        key = tuple(skus)
        self._codes: list[str] = [c.location.code for c in self._raw]
        self._index: dict[str, int] = dict(zip(self._codes, range(n), strict=True))
        get = self._index.get
        idx = [get(t.location, -1) for t in terms]
        if -1 in idx:  # terms for locations that are not candidates count for nothing
            kept = [i for i, k in enumerate(idx) if k >= 0]
            terms = [terms[i] for i in kept]
            idx = [idx[i] for i in kept]
        self._terms: Sequence[CostTerm] = terms
        self._term_idx: list[int] = idx
        self._terms_of: tuple[list[int], list[int]] | None = None
        self._built: list[Candidate | None] = [None] * n
        # Sums in term order from 0.0, as adding the terms one by one would.
        fixed = np.bincount(idx, weights=[t.fixed for t in terms], minlength=n)[:n] if idx \
            else np.zeros(n)
        per_unit = np.bincount(idx, weights=[t.per_unit for t in terms], minlength=n)[:n] \
            if idx else np.zeros(n)
        extra = np.zeros((n, len(key)))
        column = {s: j for j, s in enumerate(key)}
        for k, term in zip(idx, terms, strict=True):
            if term.per_unit_by_sku:  # SKU-specific terms (margins): rare, summed one by one
                for sku, value in term.per_unit_by_sku.items():
                    j = column.get(sku)
                    if j is not None:
                        extra[k, j] += value
        if available is None:
            available = [[c.available.get(s, 0) for s in key] for c in self._raw]
        self._arrays = CandidateArrays(
            skus=key, available=np.array(available, dtype=float).reshape(n, len(key)),
            unit=per_unit[:, None] + extra, fixed=fixed)
        self._fixed_list: list[float] | None = None
        self._unit_list: list[list[float]] | None = None

    # -- the sequence -----------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._raw)

    @overload
    def __getitem__(self, index: int) -> Candidate: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Candidate, ...]: ...

    def __getitem__(self, index: int | slice) -> Candidate | tuple[Candidate, ...]:
        if isinstance(index, slice):
            return tuple(self._build(k) for k in range(len(self._raw))[index])
        if index < 0:
            index += len(self._raw)
        if not 0 <= index < len(self._raw):
            raise IndexError("candidate index out of range")
        return self._build(index)

    def __iter__(self) -> Iterator[Candidate]:
        return (self._build(k) for k in range(len(self._raw)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PricedCandidates):
            return tuple(self) == tuple(other)
        if isinstance(other, tuple):
            return tuple(self) == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PricedCandidates({list(self)!r})"

    # -- lookups without building every candidate --------------------------------------------

    @property
    def codes(self) -> Sequence[str]:
        """The location codes, in candidate order."""
        return self._codes

    @property
    def unpriced(self) -> tuple[Candidate, ...]:
        """The candidates as screened (holdbacks taken off), without prices: for strategies
        that read only locations, stock and distances."""
        return self._raw

    def position(self, code: str) -> int | None:
        """The index of the candidate at location ``code`` (``None``: not a candidate)."""
        return self._index.get(code)

    def get(self, code: str) -> Candidate | None:
        """The priced candidate at location ``code`` (``None``: not a candidate)."""
        k = self._index.get(code)
        return None if k is None else self._build(k)

    def arrays(self, skus: Sequence[str]) -> CandidateArrays:
        """Availability, unit costs (candidate × SKU) and fixed costs, for ``skus``."""
        key = tuple(skus)
        arrays = self._arrays
        if arrays.skus == key:
            return arrays
        # Other columns (a strategy asking for its own SKU order): from the priced rows.
        unit_rows = [[c.unit_cost.get(s, 0.0) for s in key] for c in self]
        return CandidateArrays(
            skus=key,
            available=np.array([[c.available.get(s, 0) for s in key] for c in self._raw],
                               dtype=float).reshape(len(self), len(key)),
            unit=np.array(unit_rows, dtype=float).reshape(len(self), len(key)),
            fixed=arrays.fixed)

    def _build(self, k: int) -> Candidate:
        built = self._built[k]
        if built is not None:
            return built
        if self._fixed_list is None:
            self._fixed_list = self._arrays.fixed.tolist()
            self._unit_list = self._arrays.unit.tolist()
        if self._terms_of is None:
            # Term positions grouped by candidate (a stable sort keeps each one's order).
            at = np.asarray(self._term_idx, dtype=np.int64)
            order = np.argsort(at, kind="stable")
            starts = np.searchsorted(at[order], np.arange(len(self._raw) + 1)).tolist()
            self._terms_of = (order.tolist(), starts)
        assert self._unit_list is not None
        order_list, starts = self._terms_of
        terms = self._terms
        c = self._raw[k]
        # The constructor, not attrs.evolve: cheaper, and the fields are all known.
        built = Candidate(location=c.location, available=c.available,
                          distance_km=c.distance_km, fixed_cost=self._fixed_list[k],
                          unit_cost=dict(zip(self._arrays.skus, self._unit_list[k],
                                             strict=True)),
                          capacity_left=c.capacity_left,
                          terms=tuple(terms[i] for i in order_list[starts[k]:starts[k + 1]]))
        self._built[k] = built
        return built
