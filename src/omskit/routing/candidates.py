"""The eligible, priced candidates of one routing decision as a strategy receives them, with
the same data as NumPy arrays for the optimiser (kept out of the domain, which imports only
the standard library and attrs).

Prices are summed per candidate as arrays (one pass over the cost terms, not an object per
candidate and term); a priced :class:`~omskit.domain.routing.Candidate` is built only when a
strategy, the check or the explanation reads it, so a decision over a thousand candidates
that uses three of them builds a few dozen, not a thousand.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

import attrs
import numpy as np

from omskit.domain.routing import Candidate, CostTerm
from omskit.routing.explanation import term_row


@attrs.frozen(kw_only=True, eq=False)
class CandidateArrays:
    """Candidates as NumPy arrays: rows in candidate order, columns in ``skus`` order."""

    skus: tuple[str, ...]
    available: np.ndarray
    unit: np.ndarray
    fixed: np.ndarray


@attrs.frozen(kw_only=True, eq=False)
class TermColumn:
    """One kind of cost term for every candidate of a :class:`CostTable`: arrays with a
    value per candidate (``None``: 0 everywhere), and which candidates have the term."""

    term: str
    fixed: np.ndarray | None = None
    per_unit: np.ndarray | None = None
    #: Candidates with this term (``None``: all of them).
    present: np.ndarray | None = None
    #: Per candidate: the term's note (the carrier, for shipping) and transit days.
    notes: Sequence[str] | None = None
    transit_days: np.ndarray | None = None


class CostTable(Sequence[CostTerm]):
    """Cost terms for the candidates of one ``omskit_routing_cost_terms`` call, in columns.

    It is what the builtin rules return: a sequence of :class:`CostTerm` like any answer
    of the hook (iterating builds them, candidate by candidate, columns in order), which the
    engine reads as arrays instead, without building a term per candidate.
    """

    __slots__ = ("_count", "candidates", "columns")

    def __init__(self, candidates: Sequence[Candidate], columns: Sequence[TermColumn]) -> None:
        """Columns of terms for ``candidates`` (the very sequence the hook was given)."""
        self.candidates = candidates
        self.columns = tuple(columns)
        self._count: int | None = None

    def terms_at(self, k: int) -> list[CostTerm]:
        """The terms of candidate ``k``, in column order."""
        code = self.candidates[k].location.code
        found: list[CostTerm] = []
        for col in self.columns:
            if col.present is not None and not col.present[k]:
                continue
            days = col.transit_days
            found.append(CostTerm(
                location=code, term=col.term,
                fixed=float(col.fixed[k]) if col.fixed is not None else 0.0,
                per_unit=float(col.per_unit[k]) if col.per_unit is not None else 0.0,
                note=col.notes[k] if col.notes is not None else "",
                transit_days=int(days[k]) if days is not None else None))
        return found

    def __len__(self) -> int:
        if self._count is None:
            n = len(self.candidates)
            self._count = sum(n if col.present is None else int(col.present.sum())
                              for col in self.columns)
        return self._count

    def __iter__(self) -> Iterator[CostTerm]:
        for k in range(len(self.candidates)):
            yield from self.terms_at(k)

    @overload
    def __getitem__(self, index: int) -> CostTerm: ...

    @overload
    def __getitem__(self, index: slice) -> list[CostTerm]: ...

    def __getitem__(self, index: int | slice) -> CostTerm | list[CostTerm]:
        return list(self)[index]

    def __repr__(self) -> str:
        return f"CostTable({list(self)!r})"


class PricedCandidates(Sequence[Candidate]):
    """The eligible, priced candidates of one decision, as the engine hands them to a
    strategy: a read-only sequence of priced :class:`Candidate`\\ s (each built on first
    access), plus the same data as arrays (:meth:`arrays`)."""

    __slots__ = ("_arrays", "_built", "_codes", "_fixed_list", "_index", "_raw", "_sets",
                 "_terms_of", "_unit_list")

    def __init__(self, eligible: Sequence[Candidate],
                 term_sets: Sequence[Iterable[CostTerm]], skus: Sequence[str],
                 available: Sequence[Sequence[int]] | np.ndarray | None = None) -> None:
        """Price ``eligible`` (unpriced candidates) with each plugin's terms (``term_sets``,
        in hook order) for the SKUs ``skus``; ``available`` (rows per candidate, columns
        per SKU) saves reading it again."""
        self._raw: Sequence[Candidate] = eligible
        n = len(eligible)
        key = tuple(skus)
        self._codes: list[str] = [c.location.code for c in eligible]
        self._index: dict[str, int] = dict(zip(self._codes, range(n), strict=True))
        fixed = np.zeros(n)
        per_unit = np.zeros(n)
        extra: np.ndarray | None = None
        column = {s: j for j, s in enumerate(key)}
        #: Per term set: a CostTable, or (terms, candidate of each term).
        self._sets: list[CostTable | tuple[list[CostTerm], list[int]]] = []
        for found in term_sets:
            if isinstance(found, CostTable) and found.candidates is eligible:
                # Column form: whole arrays, added in the order the terms would be.
                for col in found.columns:
                    if col.fixed is not None:
                        fixed += (col.fixed if col.present is None
                                  else np.where(col.present, col.fixed, 0.0))
                    if col.per_unit is not None:
                        per_unit += (col.per_unit if col.present is None
                                     else np.where(col.present, col.per_unit, 0.0))
                self._sets.append(found)
                continue
            terms = list(found)
            get = self._index.get
            idx = [get(t.location, -1) for t in terms]
            if -1 in idx:  # terms for locations that are not candidates count for nothing
                kept = [i for i, k in enumerate(idx) if k >= 0]
                terms = [terms[i] for i in kept]
                idx = [idx[i] for i in kept]
            if not terms:
                continue
            # Sums in term order, as adding the terms one by one would.
            np.add.at(fixed, idx, [t.fixed for t in terms])
            np.add.at(per_unit, idx, [t.per_unit for t in terms])
            for k, term in zip(idx, terms, strict=True):
                if term.per_unit_by_sku:  # SKU-specific terms (margins): summed one by one
                    if extra is None:
                        extra = np.zeros((n, len(key)))
                    for sku, value in term.per_unit_by_sku.items():
                        j = column.get(sku)
                        if j is not None:
                            extra[k, j] += value
            self._sets.append((terms, idx))
        self._terms_of: list[tuple[list[int], list[int]] | None] = [None] * len(self._sets)
        self._built: list[Candidate | None] = [None] * n
        if available is None:
            available = [[c.available.get(s, 0) for s in key] for c in eligible]
        unit = per_unit[:, None] + (extra if extra is not None else np.zeros((n, len(key))))
        self._arrays = CandidateArrays(
            skus=key, available=np.array(available, dtype=float).reshape(n, len(key)),
            unit=unit, fixed=fixed)
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
    def unpriced(self) -> Sequence[Candidate]:
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

    def prices(self, k: int) -> tuple[float, list[float]]:
        """Candidate ``k``'s fixed cost and unit cost per SKU (in :meth:`arrays` order),
        without building the candidate (nor a list of every candidate's prices)."""
        if self._fixed_list is not None and self._unit_list is not None:
            return self._fixed_list[k], self._unit_list[k]
        return self._arrays.fixed.item(k), self._arrays.unit[k].tolist()

    def term_rows(self, k: int) -> list[list[Any] | str]:
        """Candidate ``k``'s terms as an explanation's compact rows
        (:func:`~omskit.routing.explanation.term_row`), in the order of
        :attr:`Candidate.terms`, without building a :class:`CostTerm` for a term in column
        form."""
        found: list[list[Any] | str] = []
        for i, term_set in enumerate(self._sets):
            if isinstance(term_set, CostTable):
                for col in term_set.columns:
                    if col.present is not None and not col.present.item(k):
                        continue
                    fixed = col.fixed.item(k) if col.fixed is not None else 0.0
                    per_unit = col.per_unit.item(k) if col.per_unit is not None else 0.0
                    note = col.notes[k] if col.notes is not None else ""
                    # Plain floats (`item`); finite (a sum of finite figures is finite).
                    if math.isfinite(fixed + per_unit) and type(note) is str:
                        found.append([col.term, fixed, per_unit, note])
                    else:
                        found.append(term_row(col.term, fixed, per_unit, {}, note))
                continue
            found.extend(term_row(t.term, t.fixed, t.per_unit, t.per_unit_by_sku, t.note)
                         for t in self._terms_in(i, k))
        return found

    def _terms_in(self, i: int, k: int) -> list[CostTerm]:
        """Candidate ``k``'s terms in term set ``i`` (a plugin's answer as a list of
        terms), in the answer's order."""
        term_set = self._sets[i]
        assert not isinstance(term_set, CostTable)
        terms, idx = term_set
        grouped = self._terms_of[i]
        if grouped is None:
            # Term positions grouped by candidate (a stable sort keeps each one's order).
            at = np.asarray(idx, dtype=np.int64)
            order = np.argsort(at, kind="stable")
            starts = np.searchsorted(at[order], np.arange(len(self._raw) + 1)).tolist()
            grouped = self._terms_of[i] = (order.tolist(), starts)
        order_list, starts = grouped
        return [terms[j] for j in order_list[starts[k]:starts[k + 1]]]

    def _terms(self, k: int) -> tuple[CostTerm, ...]:
        """Candidate ``k``'s terms, term set by term set (as the hook's answers came)."""
        found: list[CostTerm] = []
        for i, term_set in enumerate(self._sets):
            if isinstance(term_set, CostTable):
                found.extend(term_set.terms_at(k))
            else:
                found.extend(self._terms_in(i, k))
        return tuple(found)

    def _build(self, k: int) -> Candidate:
        built = self._built[k]
        if built is not None:
            return built
        if self._fixed_list is None or self._unit_list is None:
            self._fixed_list = self._arrays.fixed.tolist()
            self._unit_list = self._arrays.unit.tolist()
        fixed, unit = self._fixed_list[k], self._unit_list[k]
        c = self._raw[k]
        # The constructor, not attrs.evolve: cheaper, and the fields are all known.
        built = Candidate(location=c.location, available=c.available,
                          distance_km=c.distance_km, fixed_cost=fixed,
                          unit_cost=dict(zip(self._arrays.skus, unit, strict=True)),
                          capacity_left=c.capacity_left, terms=self._terms(k))
        self._built[k] = built
        return built
