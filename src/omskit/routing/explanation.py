"""A routing decision's explanation kept compact until someone reads it (decision 48).

Every decision stores an explanation, and almost none is ever read: the engine keeps the
candidate rows (the best-ranked, the used and the named excluded locations) as plain lists
of the values the full :class:`~omskit.domain.routing.RoutingDecision` shows (costs as the
floats they are, rounded when read: JSON keeps a float exactly), and the store keeps those
lists as they are. The full explanation, with a
:class:`~omskit.domain.routing.CandidateExplanation` and its reason texts per row, is built
when it is read (``oms.orders.explain``, the API, the CLI), identical to what was stored in
full before. A payload without :data:`ROWS_KEY` is a full explanation, as every row written
before this format was, and reads back as it always did.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import cattrs

from omskit.domain.routing import CandidateExplanation, RoutingDecision

#: The payload key of the compact candidate rows (absent: the payload is a full explanation).
ROWS_KEY = "candidate_rows"


def describe(fixed: float, per_unit: float, extra: Mapping[str, float], note: str) -> str:
    """A cost term as an explanation shows it: ``5.00 per shipment, 0.50 per unit (post)``."""
    parts = []
    if fixed:
        parts.append(f"{fixed:.2f} per shipment")
    if per_unit:
        parts.append(f"{per_unit:.2f} per unit")
    for sku, value in sorted(extra.items()):
        parts.append(f"{value:.2f} per unit of {sku}")
    text = ", ".join(parts) or "0"
    return f"{text} ({note})" if note else text


def _plain(value: object) -> bool:
    return type(value) is int or (type(value) is float and math.isfinite(value))


def term_row(term: str, fixed: float, per_unit: float, extra: Mapping[str, float],
             note: str) -> list[Any] | str:
    """A cost term as a compact row stores it: its plain values (the text is made when the
    explanation is read), or the text itself when the values would not survive JSON as they
    are (SKU-specific prices, non-finite or non-float numbers: rare)."""
    if not extra and _plain(fixed) and _plain(per_unit) and type(term) is str \
            and type(note) is str:
        return [term, fixed, per_unit, note]
    return f"{term}: {describe(fixed, per_unit, extra, note)}"


def _reason(term: list[Any] | str) -> str:
    if isinstance(term, str):
        return term
    name, fixed, per_unit, note = term
    return f"{name}: {describe(fixed, per_unit, {}, note)}"


def expand(rows: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The fields of every :class:`CandidateExplanation` the compact ``rows`` stand for,
    in order: used and best-ranked locations, then the named excluded ones."""
    need: Sequence[str] = rows["need"]
    skus: Sequence[str] = rows["skus"]
    priced, best = rows["priced"], rows["best"]
    found: list[dict[str, Any]] = []
    for code, status, distance, available, fixed, unit, standalone, rank, terms in rows["shown"]:
        found.append({
            "location": code, "status": status, "distance_km": distance,
            "available": dict(zip(need, available, strict=True)),
            "fixed_cost": round(fixed, 4),
            "unit_cost": {s: round(v, 4) for s, v in zip(skus, unit, strict=True)},
            "standalone_cost": round(standalone, 4),
            "reasons": (f"rank {rank} of {priced} by standalone cost" if rank <= best
                        else f"ranked below the best {best} by standalone cost",
                        *map(_reason, terms))})
    for code, distance, available, reasons in rows["excluded"]:
        found.append({
            "location": code, "status": "excluded", "distance_km": distance,
            "available": ({} if available is None
                          else dict(zip(need, available, strict=True))),
            "fixed_cost": None, "unit_cost": {}, "standalone_cost": None,
            "reasons": tuple(reasons)})
    return found


class ExplanationRecord:
    """One decision's explanation as the engine makes it: every field of the
    :class:`RoutingDecision` but its candidate rows (``head``), and those rows compact."""

    __slots__ = ("_rendered", "head", "rows")

    def __init__(self, head: RoutingDecision, rows: dict[str, Any]) -> None:
        """``head``: the explanation with no candidate rows; ``rows``: the compact rows."""
        self.head = head
        self.rows = rows
        self._rendered: RoutingDecision | None = None

    def render(self) -> RoutingDecision:
        """The full explanation (built once, on first read)."""
        if self._rendered is None:
            self._rendered = attrs.evolve(self.head, candidates=tuple(
                CandidateExplanation(**fields) for fields in expand(self.rows)))
        return self._rendered

    def payload(self, converter: cattrs.Converter) -> dict[str, Any]:
        """The JSON document stored for this explanation."""
        found: dict[str, Any] = converter.unstructure(self.head)
        del found["candidates"]
        found[ROWS_KEY] = self.rows
        return found


def read_payload(converter: cattrs.Converter, payload: Mapping[str, Any]) -> RoutingDecision:
    """The explanation a stored payload holds: a full one as it is, a compact one rendered."""
    if ROWS_KEY not in payload:
        return converter.structure(payload, RoutingDecision)
    full = {k: v for k, v in payload.items() if k != ROWS_KEY}
    full["candidates"] = expand(payload[ROWS_KEY])
    return converter.structure(full, RoutingDecision)
