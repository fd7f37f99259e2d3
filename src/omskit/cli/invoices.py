"""``omskit invoices``: list invoices and credit notes, show one, write its PDF; and
``omskit journal export``: the journal of postings as CSV."""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from omskit.cli.context import CliState, echo_json, pass_state
from omskit.domain.invoices import DocumentKind, Invoice

_DAY = click.DateTime(formats=["%Y-%m-%d"])


def _day(value: datetime | None) -> date | None:
    return None if value is None else value.date()


def _as_dict(invoice: Invoice) -> dict[str, Any]:
    return {
        "number": invoice.number, "kind": invoice.kind.value, "id": invoice.id,
        "series": invoice.series, "year": invoice.year, "sequence": invoice.sequence,
        "issue_date": invoice.issue_date.isoformat(), "order_id": invoice.order_id,
        "external_id": invoice.external_id, "channel": invoice.channel,
        "shipment_id": invoice.shipment_id, "credits": list(invoice.credits),
        "currency": invoice.currency, "net": str(invoice.net), "vat": str(invoice.vat),
        "gross": str(invoice.gross),
        "vat_totals": [{"vat_rate": str(t.vat_rate), "net": str(t.net), "vat": str(t.vat),
                        "gross": str(t.gross)} for t in invoice.vat_totals],
        "lines": [{"position": x.position, "description": x.description,
                   "line_id": x.line_id, "sku": x.sku, "quantity": x.quantity,
                   "unit_price": str(x.unit_price), "vat_rate": str(x.vat_rate),
                   "net": str(x.net), "vat": str(x.vat), "gross": str(x.gross)}
                  for x in invoice.lines],
    }


@click.group()
def invoices() -> None:
    """Invoices and credit notes: list them, show one, write its PDF."""


@invoices.command("list")
@click.option("--kind", type=click.Choice([k.value for k in DocumentKind]), default=None,
              help="Only invoices, or only credit notes.")
@click.option("--order", "order_id", default=None, help="omskit's id of the order.")
@click.option("--channel", default=None)
@click.option("--from", "date_from", type=_DAY, default=None,
              help="Issued on or after (YYYY-MM-DD).")
@click.option("--to", "date_to", type=_DAY, default=None,
              help="Issued on or before (YYYY-MM-DD).")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_state
def list_invoices(state: CliState, kind: str | None, order_id: str | None,
                  channel: str | None, date_from: datetime | None, date_to: datetime | None,
                  limit: int, as_json: bool) -> None:
    """Invoices and credit notes matching every filter given, newest first."""
    found = state.oms().invoices.search(
        kind=DocumentKind(kind) if kind else None, order_id=order_id, channel=channel,
        date_from=_day(date_from), date_to=_day(date_to), limit=limit)
    if as_json:
        echo_json([_as_dict(i) for i in found])
        return
    table = Table(title=f"{len(found)} documents")
    # Numbers and amounts are never cut short: `invoices show` must find what is printed.
    for heading in ("number", "kind", "issued"):
        table.add_column(heading, no_wrap=True)
    table.add_column("order", overflow="fold", min_width=12)
    for heading in ("VAT", "gross"):
        table.add_column(heading, no_wrap=True, justify="right")
    for i in found:
        table.add_row(i.number, i.kind.value, i.issue_date.isoformat(),
                      f"{i.channel}/{i.external_id}", str(i.vat), f"{i.gross} {i.currency}")
    state.console.print(table)


@invoices.command("show")
@click.argument("number")
@click.option("--pdf", "pdf", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              default=None, help="Also write the document as a PDF to this file.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@pass_state
def show(state: CliState, number: str, pdf: Path | None, as_json: bool) -> None:
    """One invoice or credit note by its NUMBER (2026/INV/000001): parties, lines, VAT per
    rate and totals; --pdf FILE writes it as a PDF."""
    oms = state.oms()
    invoice = oms.invoices.get(number)
    if pdf is not None:
        pdf.write_bytes(oms.invoices.pdf(invoice.number))
    if as_json:
        echo_json(_as_dict(invoice))
        return
    console = state.console
    title = "Invoice" if invoice.kind is DocumentKind.INVOICE else "Credit note"
    console.print(f"[bold]{title} {invoice.number}[/bold]  issued "
                  f"{invoice.issue_date.isoformat()}  order {invoice.external_id} "
                  f"({invoice.channel})  {invoice.gross} {invoice.currency}")
    console.print(f"seller: {invoice.seller.name or '-'} {invoice.seller.vat_number}".rstrip())
    console.print(f"buyer: {invoice.buyer.name or '-'} ({invoice.buyer.customer_id})")
    if invoice.credits:
        console.print("credits: " + ", ".join(invoice.credits))
    lines = Table("#", "item", "units", "unit price", "VAT %", "net", "VAT", "gross",
                  title="lines")
    for x in invoice.lines:
        lines.add_row(str(x.position), x.description, str(x.quantity), str(x.unit_price),
                      str(x.vat_rate), str(x.net), str(x.vat), str(x.gross))
    console.print(lines)
    rates = Table("VAT %", "net", "VAT", "gross", title="per VAT rate")
    for t in invoice.vat_totals:
        rates.add_row(str(t.vat_rate), str(t.net), str(t.vat), str(t.gross))
    rates.add_row("total", str(invoice.net), str(invoice.vat), str(invoice.gross))
    console.print(rates)
    if pdf is not None:
        console.print(f"PDF written to {pdf}")


@click.group()
def journal() -> None:
    """The journal of postings (invoices, credit notes, captures, refunds): export it."""


@journal.command("export")
@click.option("--from", "date_from", type=_DAY, required=True,
              help="First posting day (YYYY-MM-DD), included.")
@click.option("--to", "date_to", type=_DAY, required=True,
              help="Last posting day (YYYY-MM-DD), included.")
@click.argument("file", type=click.Path(dir_okay=False, writable=True, path_type=Path),
                required=False)
@pass_state
def export(state: CliState, date_from: datetime, date_to: datetime,
           file: Path | None) -> None:
    """Write the postings from --from to --to as CSV to FILE (default: standard output),
    one line per posting (docs/formats.md)."""
    oms = state.oms()
    start, end = date_from.date(), date_to.date()
    if file is None:
        oms.journal.export(start, end, sys.stdout)
        return
    text = oms.journal.export_text(start, end)  # checked and read before the file is made
    file.write_text(text, encoding="utf-8", newline="")
    click.echo(f"{text.count(chr(10)) - 1} postings written to {file}", err=True)
