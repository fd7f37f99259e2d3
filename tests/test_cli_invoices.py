"""``omskit invoices`` and ``omskit journal``, run in-process on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import attrs
import pypdf
import pytest
from click.testing import CliRunner, Result

from omskit import ManualCarriers, OrderPayment, Tender, bootstrap
from omskit.cli import cli
from omskit.cli.main import user_error
from omskit.testing import TestDatabase, location, order_command


def run(db: TestDatabase, *args: str) -> Result:
    base = ["--db", db.url, "--no-plugins"]
    if db.schema:
        base += ["--schema", db.schema]
    return CliRunner().invoke(cli, [*base, *args])


def one_line(result: Result) -> str:
    """What ``omskit`` prints for a failed command: ``main()`` turns a typed error into
    ``error: <message>`` (``omskit.cli.main.user_error``)."""
    assert result.exit_code != 0
    message = user_error(result.exception) if result.exception else None
    assert message is not None, result.exception
    assert "\n" not in message
    return message


@pytest.fixture
def invoiced(omskit_database: TestDatabase) -> str:
    """A till order handed over: one invoice, 2026/INV/000001 or this year's."""
    settings = {"invoices": {"tax_rate": "22"}}
    with bootstrap(omskit_database.url, schema=omskit_database.schema, settings=settings,
                   load_entrypoints=False, plugins=[ManualCarriers("brt")]) as oms:
        oms.upgrade()
        oms.inventory.save_location(location("dc-milano", 45.46, 9.19))
        oms.inventory.receive("dc-milano", "SHIRT-1", 5)
        command = attrs.evolve(order_command("S-1", {"SHIRT-1": 2}, unit_price="30.50"),
                               payment=OrderPayment(tenders=[Tender(
                                   captured=True, amount="61.00", reference="till-1")]))
        order = oms.fulfillment.release(oms.orders.place(command).id)
        fo = order.fulfillment_orders[0].id
        for step in (oms.fulfillment.accept, oms.fulfillment.pick, oms.fulfillment.pack):
            step(fo)
        oms.fulfillment.ship(fo, carrier="brt", tracking_number="T-1")
        (invoice,) = oms.invoices.for_order(order.id)
        return invoice.number


def test_invoices_list_and_show_with_its_pdf(omskit_database: TestDatabase, invoiced: str,
                                             tmp_path: Path) -> None:
    listed = json.loads(run(omskit_database, "invoices", "list", "--json").output)
    assert [(d["number"], d["kind"], d["gross"], d["external_id"]) for d in listed] == [
        (invoiced, "invoice", "61.00", "S-1")]
    assert json.loads(run(omskit_database, "invoices", "list", "--kind", "credit_note",
                          "--json").output) == []
    pdf = tmp_path / "invoice.pdf"
    shown = run(omskit_database, "invoices", "show", invoiced, "--pdf", str(pdf))
    assert shown.exit_code == 0, shown.output
    assert f"Invoice {invoiced}" in shown.output
    assert "50.00" in shown.output
    assert "11.00" in shown.output
    text = " ".join(pypdf.PdfReader(pdf).pages[0].extract_text().split())
    assert f"Invoice {invoiced}" in text
    assert "Total EUR 50.00 11.00 61.00" in text
    as_json = json.loads(run(omskit_database, "invoices", "show", invoiced, "--json").output)
    assert as_json["vat_totals"] == [{"vat_rate": "22", "net": "50.00", "vat": "11.00",
                                      "gross": "61.00"}]


def test_journal_export_to_a_file_and_to_stdout(omskit_database: TestDatabase, invoiced: str,
                                                tmp_path: Path) -> None:
    out = tmp_path / "journal.csv"
    done = run(omskit_database, "journal", "export", "--from", "2000-01-01",
               "--to", "2100-12-31", str(out))
    assert done.exit_code == 0, done.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [(r["kind"], r["gross"]) for r in rows] == [("capture", "61.00"),
                                                       ("invoice", "61.00")]
    printed = run(omskit_database, "journal", "export", "--from", "2000-01-01",
                  "--to", "2100-12-31")
    assert printed.output == out.read_text(encoding="utf-8")


def test_bad_input_is_one_line(omskit_database: TestDatabase, invoiced: str,
                               tmp_path: Path) -> None:
    unknown = run(omskit_database, "invoices", "show", "1999/INV/000001")
    assert one_line(unknown) == "invoice '1999/INV/000001' not found"
    backwards = run(omskit_database, "journal", "export", "--from", "2026-02-01",
                    "--to", "2026-01-01", str(tmp_path / "never.csv"))
    assert one_line(backwards) == "invalid period: from 2026-02-01 is after to 2026-01-01"
    assert not (tmp_path / "never.csv").exists()
    missing = run(omskit_database, "journal", "export", "--from", "2026-01-01")
    assert missing.exit_code == 2
