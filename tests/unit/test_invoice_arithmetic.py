"""The VAT arithmetic of invoices and credit notes, without a database: lines rounded half up,
credit notes that never take back more than was invoiced, at any rate, and that add up to
the invoices to the cent once everything is refunded."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from omskit.domain.invoices import (
    DocumentKind,
    Invoice,
    InvoiceLine,
    Party,
    plan_credit,
    tax_line,
    vat_of,
)
from omskit.services.invoices import JOURNAL_COLUMNS

FORMATS = Path(__file__).resolve().parents[2] / "docs" / "formats.md"
RATES = (Decimal(0), Decimal(4), Decimal(10), Decimal(22), Decimal("5.5"))


def document(kind: DocumentKind, number: str, lines: list[InvoiceLine],
             credits: tuple[str, ...] = (), mirrors: bool = False) -> Invoice:
    return Invoice(id=number, kind=kind, number=number, series="S", year=2026, sequence=1,
                   order_id="o-1", external_id="W-1", channel="web", currency="EUR",
                   issued_at=datetime(2026, 1, 1, tzinfo=UTC), issue_date=date(2026, 1, 1),
                   seller=Party(), buyer=Party(), lines=tuple(lines), source=number,
                   credits=credits, mirrors=mirrors)


def test_vat_is_rounded_half_up_per_line() -> None:
    # 0.61 × 22 / 122 = 0.11000 → 0.11; 12.45 × 10 / 110 = 1.1318 → 1.13; 0.55 at 10 %:
    # 0.05 exactly, no rounding; 3.15 at 5 %: 0.15 exactly. Half up: 0.275 → 0.28.
    assert vat_of(Decimal("0.61"), Decimal(22), "EUR") == Decimal("0.11")
    assert vat_of(Decimal("12.45"), Decimal(10), "EUR") == Decimal("1.13")
    assert vat_of(Decimal("2.775"), Decimal(11), "EUR") == Decimal("0.28")  # 0.275 exactly
    assert vat_of(Decimal("1000"), Decimal(22), "JPY") == Decimal("180")
    line = tax_line(position=1, description="x", line_id="1", sku="x", quantity=3,
                    unit_price=Decimal("9.99"), vat_rate=Decimal("22.0"), currency="EUR")
    assert (line.gross, line.vat, line.net, line.vat_rate) == (
        Decimal("29.97"), Decimal("5.40"), Decimal("24.57"), Decimal("22"))


prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("500"), places=2)
invoice_lines = st.lists(st.tuples(prices, st.integers(1, 5), st.sampled_from(RATES)),
                         min_size=1, max_size=6)


@given(invoice_lines, st.lists(st.integers(1, 100), min_size=1, max_size=5))
def test_credit_notes_never_exceed_and_end_exactly_at_the_invoice(
        lines: list[tuple[Decimal, int, Decimal]], shares: list[int]) -> None:
    invoice = document(DocumentKind.INVOICE, "I-1", [
        tax_line(position=i, description="x", line_id=str(i), sku="x", quantity=q,
                 unit_price=p, vat_rate=r, currency="EUR")
        for i, (p, q, r) in enumerate(lines, start=1)])
    total = invoice.gross
    # Refunds that share the invoice out, the last one taking what is left.
    amounts = [(total * s / sum(shares)).quantize(Decimal("0.01")) for s in shares[:-1]]
    amounts.append(total - sum(amounts))
    notes: list[Invoice] = []
    for n, amount in enumerate(amounts, start=1):
        plan = plan_credit(amount, "EUR", [invoice], notes)
        if amount <= 0:
            continue
        assert plan is not None
        assert sum(x.gross for x in plan.lines) == min(amount, total)
        for x in plan.lines:
            assert x.net >= 0
            assert 0 <= x.vat <= x.gross
            assert x.net + x.vat == x.gross
        notes.append(document(DocumentKind.CREDIT_NOTE, f"C-{n}", list(plan.lines),
                              plan.credits, plan.mirrors))
    for rate in invoice.vat_totals:
        credited = [t for note in notes for t in note.vat_totals if t.vat_rate == rate.vat_rate]
        assert sum(t.gross for t in credited) == rate.gross
        assert sum(t.vat for t in credited) == rate.vat
        assert sum(t.net for t in credited) == rate.net
    assert plan_credit(Decimal("1.00"), "EUR", [invoice], notes) is None


def test_a_refund_above_what_was_invoiced_credits_only_the_invoice() -> None:
    invoice = document(DocumentKind.INVOICE, "I-1", [
        tax_line(position=1, description="x", line_id="1", sku="x", quantity=1,
                 unit_price=Decimal("10.00"), vat_rate=Decimal(22), currency="EUR")])
    plan = plan_credit(Decimal("25.00"), "EUR", [invoice], [])
    assert plan is not None
    assert plan.mirrors
    assert [x.gross for x in plan.lines] == [Decimal("10.00")]
    assert plan_credit(Decimal("5.00"), "EUR", [], []) is None


def test_the_journal_columns_are_documented_in_order() -> None:
    text = FORMATS.read_text(encoding="utf-8")
    section = text.split("## Journal export", 1)[1]
    documented = [name for row in re.findall(r"^\| `([^|]+)` \|", section, re.M)
                  for name in re.findall(r"(\w+)`?", row)]
    assert tuple(documented) == JOURNAL_COLUMNS
    sample = section.split("```text\n", 1)[1].splitlines()[0]
    assert tuple(sample.split(",")) == JOURNAL_COLUMNS
