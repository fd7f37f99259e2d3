"""The eligible, priced candidates of one routing decision as a strategy receives them, with
the same data as NumPy arrays for the optimiser (kept out of the domain, which imports only
the standard library and attrs)."""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np

from omskit.domain.routing import Candidate


class PricedCandidates(tuple[Candidate, ...]):
    """The eligible, priced candidates of one decision, as the engine hands them to a
    strategy: a plain tuple, plus the same data as arrays (built once, on first use)."""

    def arrays(self, skus: Sequence[str]) -> CandidateArrays:
        """Availability, unit costs (candidate × SKU) and fixed costs, for ``skus``."""
        key = tuple(skus)
        cached: CandidateArrays | None = self.__dict__.get("_arrays")
        if cached is None or cached.skus != key:
            cached = CandidateArrays(
                skus=key,
                available=np.array([[c.available.get(s, 0) for s in key] for c in self],
                                   dtype=float).reshape(len(self), len(key)),
                unit=np.array([[c.unit_cost.get(s, 0.0) for s in key] for c in self],
                              dtype=float).reshape(len(self), len(key)),
                fixed=np.array([c.fixed_cost for c in self], dtype=float))
            self.__dict__["_arrays"] = cached
        return cached


@attrs.frozen(kw_only=True, eq=False)
class CandidateArrays:
    """Candidates as NumPy arrays: rows in candidate order, columns in ``skus`` order."""

    skus: tuple[str, ...]
    available: np.ndarray
    unit: np.ndarray
    fixed: np.ndarray
