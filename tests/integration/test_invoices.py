"""Invoices, credit notes and the journal, on SQLite and PostgreSQL: an invoice per paid
shipment and a credit note per refund, issued by the core's handlers and never twice;
numbers without gaps per series and year, under eight concurrent issuers too; VAT per line
from ``omskit_tax_rate``; the journal's CSV; PDFs whose text says what they should."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import pypdf
import pytest
from omskit_payment_sandbox import SandboxPlugin, SandboxProvider, cards

from omskit import (
    DocumentKind,
    InvalidCommand,
    InvalidPeriod,
    InvalidSettings,
    InvoiceNotFound,
    LineQuantity,
    ManualCarriers,
    Oms,
    Order,
    OrderLine,
    OrderNotFound,
    OrderPayment,
    ParcelSpec,
    PaymentRecorded,
    PlaceOrder,
    PluginError,
    Tender,
    hookimpl,
)
from omskit.services.handlers import issue_payment_documents, post_payment
from omskit.store.invoices import InvoiceRepository
from omskit.testing import MutableClock, location, order_command
from tests.integration.test_shipping import MemoryCarrierPlugin

ITALY: dict[str, Any] = {"invoices": {
    "seller": {"name": "Bottega S.r.l.", "vat_number": "IT01234567890", "line1": "Via Roma 1",
               "postal_code": "20121", "city": "Milano", "country": "IT"},
    "timezone": "Europe/Rome",
    "tax_rate": "22",
    "tax_classes": {"standard": "22", "reduced": "10", "super_reduced": "4"},
    "sku_tax_classes": {"BOOK-*": "super_reduced", "FOOD-*": "reduced"},
    "channel_series": {"store": {"invoice": "POS", "credit_note": "POSNC"}},
}}
SKUS = ("BOOK-1", "FOOD-1", "SHIRT-1")


def pdf_text(pdf: bytes) -> str:
    """The text of every page, whitespace collapsed."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


@pytest.fixture
def clock() -> MutableClock:
    return MutableClock(datetime(2026, 6, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def sandbox(clock: MutableClock) -> SandboxProvider:
    return SandboxProvider(clock=clock)


@pytest.fixture
def shop(make_oms: Callable[..., Oms], sandbox: SandboxProvider, clock: MutableClock) -> Oms:
    oms = make_oms(plugins=[SandboxPlugin(sandbox), ManualCarriers("brt"),
                            MemoryCarrierPlugin()], clock=clock, settings=ITALY)
    oms.inventory.save_location(location("dc-milan", 45.47, 9.19))
    for sku in SKUS:
        oms.inventory.receive("dc-milan", sku, 100)
    return oms


def card_order(external_id: str, lines: dict[str, int], price: str = "12.20",
               channel: str = "web") -> PlaceOrder:
    command = order_command(external_id, lines, unit_price=price, channel=channel)
    total = Decimal(price) * sum(lines.values())
    return attrs.evolve(command, payment=OrderPayment(tenders=[
        Tender(provider="sandbox", amount=total, method_token=cards.APPROVED)]))


def till_order(external_id: str, lines: dict[str, int], price: str = "12.20",
               channel: str = "store") -> PlaceOrder:
    command = order_command(external_id, lines, unit_price=price, channel=channel)
    total = Decimal(price) * sum(lines.values())
    return attrs.evolve(command, payment=OrderPayment(tenders=[
        Tender(captured=True, amount=total, reference=f"till-{external_id}")]))


def ship_all(oms: Oms, order_id: str) -> Order:
    for fo in oms.fulfillment.release(order_id).fulfillment_orders:
        for step in (oms.fulfillment.accept, oms.fulfillment.pick, oms.fulfillment.pack):
            step(fo.id)
        oms.fulfillment.ship(fo.id, carrier="brt", tracking_number=f"T-{fo.id[:6]}")
    return oms.orders.get(order_id)


# -- invoices per paid shipment --------------------------------------------------------------


def test_a_card_order_is_invoiced_when_its_shipment_is_captured(shop: Oms) -> None:
    order = shop.orders.place(card_order("W-1", {"BOOK-1": 1, "FOOD-1": 2, "SHIRT-1": 1}))
    assert shop.invoices.for_order(order.id) == []  # authorised, nothing shipped
    ship_all(shop, order.id)
    (invoice,) = shop.invoices.for_order(order.id)
    assert (invoice.number, invoice.kind, invoice.series, invoice.year, invoice.sequence) == (
        "2026/INV/000001", DocumentKind.INVOICE, "INV", 2026, 1)
    # 12.20 each, VAT included: 4 % of a book, 10 % of food, 22 % of a shirt, per line.
    assert [(x.sku, x.quantity, str(x.vat_rate), str(x.net), str(x.vat), str(x.gross))
            for x in invoice.lines] == [
        ("BOOK-1", 1, "4", "11.73", "0.47", "12.20"),
        ("FOOD-1", 2, "10", "22.18", "2.22", "24.40"),
        ("SHIRT-1", 1, "22", "10.00", "2.20", "12.20")]
    assert [(str(t.vat_rate), str(t.net), str(t.vat), str(t.gross))
            for t in invoice.vat_totals] == [
        ("22", "10.00", "2.20", "12.20"), ("10", "22.18", "2.22", "24.40"),
        ("4", "11.73", "0.47", "12.20")]
    assert (invoice.net, invoice.vat, invoice.gross) == (
        Decimal("43.91"), Decimal("4.89"), Decimal("48.80"))
    assert invoice.gross == shop.payments.summary(order.id).captured.amount
    assert (invoice.seller.name, invoice.seller.vat_number) == ("Bottega S.r.l.",
                                                                 "IT01234567890")
    assert (invoice.buyer.customer_id, invoice.channel, invoice.external_id) == (
        "customer-1", "web", "W-1")
    assert invoice.buyer.address == order.shipping_address
    assert shop.invoices.get("2026/INV/000001") == invoice == shop.invoices.get(invoice.id)
    timeline = [e.event_type for e in shop.orders.timeline(order.id)]
    assert timeline.count("invoice.issued") == 1
    assert timeline.count("journal.posted") == 4  # three rates and the capture
    assert shop.outbox.pending_count() == 0


def test_each_shipment_of_a_partial_delivery_gets_its_own_invoice(shop: Oms) -> None:
    order = shop.orders.place(card_order("W-2", {"SHIRT-1": 3}, price="10.00"))
    fo = shop.fulfillment.release(order.id).fulfillment_orders[0]
    for step in (shop.fulfillment.accept, shop.fulfillment.pick, shop.fulfillment.pack):
        step(fo.id)
    first = shop.shipping.create_shipment(
        fo.id, carrier="memory", lines=[LineQuantity(line_id="1", sku="SHIRT-1", quantity=1)],
        parcels=[ParcelSpec(weight_grams=500)])
    shop.shipping.buy_labels(first.id)
    shop.shipping.ship(first.id)
    rest = shop.shipping.create_shipment(fo.id, carrier="memory",
                                         parcels=[ParcelSpec(weight_grams=900)])
    shop.shipping.buy_labels(rest.id)
    shop.shipping.ship(rest.id)
    invoices = shop.invoices.for_order(order.id)
    assert [(i.number, i.shipment_id, i.gross) for i in invoices] == [
        ("2026/INV/000001", first.id, Decimal("10.00")),
        ("2026/INV/000002", rest.id, Decimal("20.00"))]


def test_a_till_order_is_invoiced_when_handed_over_in_its_channel_series(shop: Oms) -> None:
    order = shop.orders.place(till_order("S-1", {"SHIRT-1": 1}))
    assert shop.invoices.for_order(order.id) == []  # paid, but nothing handed over yet
    ship_all(shop, order.id)
    (invoice,) = shop.invoices.for_order(order.id)
    assert (invoice.number, invoice.channel, invoice.gross) == (
        "2026/POS/000001", "store", Decimal("12.20"))


def test_goods_nobody_paid_for_are_not_invoiced(shop: Oms) -> None:
    order = ship_all(shop, shop.orders.place(order_command("N-1", {"SHIRT-1": 1})).id)
    assert shop.invoices.for_order(order.id) == []
    shipment = order.fulfillment_orders[0].shipments[0]
    assert shop.invoices.invoice_shipment(order.id, shipment.id) is None


def test_a_delivered_twice_event_makes_one_document(shop: Oms) -> None:
    order = ship_all(shop, shop.orders.place(card_order("W-3", {"SHIRT-1": 2})).id)
    shop.payments.refund(order.id, Decimal("12.20"), refund_key="rma-1")
    recorded = [r.event for r in _outbox(shop, order.id)
                if isinstance(r.event, PaymentRecorded) and r.event.outcome == "success"]
    assert {e.action for e in recorded} >= {"capture", "refund"}
    before = shop.journal.postings(date(2026, 1, 1), date(2026, 12, 31))
    for event in recorded * 2:  # every payment event delivered again, twice
        post_payment(event, shop.services)
        issue_payment_documents(event, shop.services)
    shipment = order.fulfillment_orders[0].shipments[0]
    again = shop.invoices.invoice_shipment(order.id, shipment.id)
    documents = shop.invoices.for_order(order.id)
    assert [d.kind for d in documents] == [DocumentKind.INVOICE, DocumentKind.CREDIT_NOTE]
    assert again == documents[0]
    assert shop.journal.postings(date(2026, 1, 1), date(2026, 12, 31)) == before


def _outbox(oms: Oms, order_id: str) -> list[Any]:
    with oms.unit_of_work() as uow:
        return list(uow.outbox.for_order(order_id))


# -- credit notes ------------------------------------------------------------------------------


def test_a_full_refund_mirrors_the_invoice_line_by_line(shop: Oms) -> None:
    order = ship_all(shop, shop.orders.place(
        card_order("W-4", {"BOOK-1": 1, "FOOD-1": 1, "SHIRT-1": 1}, price="9.99")).id)
    shop.payments.refund(order.id, Decimal("29.97"), refund_key="all")
    invoice, note = shop.invoices.for_order(order.id)
    assert (note.kind, note.number, note.credits, note.mirrors) == (
        DocumentKind.CREDIT_NOTE, "2026/CN/000001", (invoice.number,), True)
    strip = [attrs.evolve(x, position=0) for x in invoice.lines]
    assert [attrs.evolve(x, position=0) for x in note.lines] == strip
    assert (note.net, note.vat, note.gross) == (invoice.net, invoice.vat, invoice.gross)


def test_partial_refunds_credit_per_rate_and_add_up_to_the_invoice(shop: Oms) -> None:
    order = ship_all(shop, shop.orders.place(
        card_order("W-5", {"BOOK-1": 1, "SHIRT-1": 2}, price="10.00")).id)
    (invoice,) = shop.invoices.for_order(order.id)
    shop.payments.refund(order.id, Decimal("7.00"), refund_key="goodwill")
    shop.payments.refund(order.id, Decimal("23.00"), refund_key="the-rest")
    _, first, second = shop.invoices.for_order(order.id)
    # 7.00 shared 20:10 over the 22 % and 4 % goods, each part's VAT rounded half up.
    assert [(str(x.vat_rate), str(x.net), str(x.vat), str(x.gross)) for x in first.lines] == [
        ("22", "3.83", "0.84", "4.67"), ("4", "2.24", "0.09", "2.33")]
    assert not first.mirrors
    assert first.credits == (invoice.number,)
    for rate in invoice.vat_totals:
        credited = [t for note in (first, second) for t in note.vat_totals
                    if t.vat_rate == rate.vat_rate]
        assert sum(t.net for t in credited) == rate.net
        assert sum(t.vat for t in credited) == rate.vat
        assert sum(t.gross for t in credited) == rate.gross


def test_a_refund_of_one_shipment_mirrors_its_invoice(shop: Oms) -> None:
    order = shop.orders.place(card_order("W-6", {"SHIRT-1": 1, "BOOK-1": 2}, price="15.00"))
    fo = shop.fulfillment.release(order.id).fulfillment_orders[0]
    for step in (shop.fulfillment.accept, shop.fulfillment.pick, shop.fulfillment.pack):
        step(fo.id)
    shirt, books = sorted(fo.lines, key=lambda x: x.sku, reverse=True)
    for part in (shirt, books):
        shipment = shop.shipping.create_shipment(fo.id, carrier="memory", lines=[part],
                                                 parcels=[ParcelSpec(weight_grams=500)])
        shop.shipping.buy_labels(shipment.id)
        shop.shipping.ship(shipment.id)
    first, second = shop.invoices.for_order(order.id)
    assert (first.gross, second.gross) == (Decimal("15.00"), Decimal("30.00"))
    shop.payments.refund(order.id, Decimal("30.00"), refund_key="books-back")
    note = shop.invoices.for_order(order.id)[2]
    assert note.mirrors
    assert note.credits == (second.number,)
    assert [attrs.evolve(x, position=0) for x in note.lines] == [
        attrs.evolve(x, position=0) for x in second.lines]
    shop.payments.refund(order.id, Decimal("15.00"), refund_key="shirt-back")
    last = shop.invoices.for_order(order.id)[3]
    assert last.mirrors
    assert last.credits == (first.number,)


# -- numbering ---------------------------------------------------------------------------------


def test_numbers_start_again_each_year_in_the_deployment_s_time_zone(
        shop: Oms, clock: MutableClock) -> None:
    clock.now = datetime(2026, 12, 31, 22, 30, tzinfo=UTC)  # 23:30 in Rome: still 2026
    a = ship_all(shop, shop.orders.place(till_order("Y-1", {"SHIRT-1": 1}, channel="web")).id)
    clock.now = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)  # 00:30 on 1 January in Rome
    b = ship_all(shop, shop.orders.place(till_order("Y-2", {"SHIRT-1": 1}, channel="web")).id)
    c = ship_all(shop, shop.orders.place(till_order("Y-3", {"SHIRT-1": 1}, channel="web")).id)
    numbers = [shop.invoices.for_order(o.id)[0] for o in (a, b, c)]
    assert [(i.number, i.issue_date) for i in numbers] == [
        ("2026/INV/000001", date(2026, 12, 31)), ("2027/INV/000001", date(2027, 1, 1)),
        ("2027/INV/000002", date(2027, 1, 1))]


def test_a_document_that_fails_after_numbering_gives_its_number_back(
        shop: Oms, monkeypatch: pytest.MonkeyPatch) -> None:
    original = InvoiceRepository.add
    failures = []

    def add_once_failing(self: InvoiceRepository, invoice: Any) -> None:
        if not failures:
            failures.append(invoice.number)
            raise RuntimeError("disk full")
        original(self, invoice)

    monkeypatch.setattr(InvoiceRepository, "add", add_once_failing)
    order = ship_all(shop, shop.orders.place(till_order("G-1", {"SHIRT-1": 1},
                                                        channel="web")).id)
    assert failures == ["2026/INV/000001"]
    assert shop.invoices.for_order(order.id) == []  # the shipped event failed: retried
    assert shop.outbox.dispatch_pending() >= 1
    (invoice,) = shop.invoices.for_order(order.id)
    assert invoice.number == "2026/INV/000001"  # the failed attempt left no gap


WORKERS = 8


def test_eight_concurrent_issuers_number_without_gap_or_duplicate(
        make_oms: Callable[..., Oms]) -> None:
    oms = make_oms(plugins=[ManualCarriers("brt")], settings=ITALY, dispatch="deferred")
    oms.inventory.save_location(location("dc-milan", 45.47, 9.19))
    oms.inventory.receive("dc-milan", "SHIRT-1", 100)
    shipped = []
    for n in range(WORKERS):
        order = ship_all(oms, oms.orders.place(till_order(f"C-{n}", {"SHIRT-1": 1},
                                                          channel="web")).id)
        shipped.append((order.id, order.fulfillment_orders[0].shipments[0].id))
    shipped.append(shipped[0])  # two issuers race for the same shipment too
    start = threading.Barrier(len(shipped))
    errors: list[str] = []

    def issue(order_id: str, shipment_id: str) -> None:
        start.wait()
        try:
            oms.invoices.invoice_shipment(order_id, shipment_id)
        except Exception as exc:  # reported below
            errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=issue, args=pair) for pair in shipped]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    found = oms.invoices.search(limit=100)
    assert sorted(i.sequence for i in found) == list(range(1, WORKERS + 1))
    assert len({i.source for i in found}) == WORKERS


# -- the journal -------------------------------------------------------------------------------


def test_the_journal_exports_one_csv_line_per_posting(shop: Oms, clock: MutableClock) -> None:
    order = ship_all(shop, shop.orders.place(card_order("J-1", {"BOOK-1": 1, "SHIRT-1": 1})).id)
    clock.now += timedelta(days=1)
    shop.payments.refund(order.id, Decimal("12.20"), refund_key="r-1")
    text = shop.journal.export_text(date(2026, 6, 1), date(2026, 6, 2))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert text.splitlines()[0] == ("posting_id,posted_on,posted_at,kind,document_number,"
                                    "order_id,external_id,channel,account,counter_account,"
                                    "vat_rate,net,vat,gross,currency,reference")
    assert [(r["kind"], r["posted_on"], r["vat_rate"], r["net"], r["vat"], r["gross"])
            for r in rows] == [
        ("invoice", "2026-06-01", "22", "10.00", "2.20", "12.20"),
        ("invoice", "2026-06-01", "4", "11.73", "0.47", "12.20"),
        ("capture", "2026-06-01", "", "24.40", "0.00", "24.40"),
        ("refund", "2026-06-02", "", "-12.20", "0.00", "-12.20"),
        ("credit_note", "2026-06-02", "22", "-5.00", "-1.10", "-6.10"),
        ("credit_note", "2026-06-02", "4", "-5.87", "-0.23", "-6.10")]
    assert {r["account"] for r in rows} == {"sales", "payments:sandbox"}
    assert {(r["external_id"], r["channel"], r["currency"]) for r in rows} == {
        ("J-1", "web", "EUR")}
    assert rows[0]["document_number"] == "2026/INV/000001"
    assert rows[-1]["document_number"] == "2026/CN/000001"
    ids = [int(r["posting_id"]) for r in rows]
    assert ids == sorted(ids)
    assert shop.journal.export_text(date(2026, 6, 2), date(2026, 6, 2)).count("\n") == 4
    assert shop.journal.postings(date(2026, 6, 3), date(2026, 6, 9)) == []
    with pytest.raises(InvalidPeriod):
        shop.journal.export_text(date(2026, 6, 2), date(2026, 6, 1))
    with pytest.raises(InvalidCommand):
        shop.journal.postings("2026-06-01", date(2026, 6, 2))  # type: ignore[arg-type]


# -- PDFs ----------------------------------------------------------------------------------------


def test_an_invoice_renders_to_html_and_a_pdf_with_its_figures(shop: Oms) -> None:
    order = ship_all(shop, shop.orders.place(card_order("P-1", {"BOOK-1": 1, "FOOD-1": 1})).id)
    (invoice,) = shop.invoices.for_order(order.id)
    html = shop.invoices.html(invoice.number)
    assert "<h1>Invoice 2026/INV/000001</h1>" in html
    text = pdf_text(shop.invoices.pdf(invoice.number))
    for expected in ("Invoice 2026/INV/000001", "Bottega S.r.l.", "VAT number IT01234567890",
                     "Order P-1", "sales channel web", "BOOK-1 1 12.20 4 % 11.73 0.47 12.20",
                     "FOOD-1 1 12.20 10 % 11.09 1.11 12.20", "Total EUR 22.82 1.58 24.40"):
        assert expected in text, expected
    shop.payments.refund(order.id, Decimal("24.40"), refund_key="all")
    note = shop.invoices.for_order(order.id)[1]
    text = pdf_text(shop.invoices.pdf(note.number))
    assert "Credit note 2026/CN/000001" in text
    assert "Credits invoice 2026/INV/000001" in text


def test_pick_lists_and_packing_slips_render_to_pdf(shop: Oms) -> None:
    order = shop.orders.place(order_command("K-1", {"SHIRT-1": 2, "BOOK-1": 1}))
    shop.fulfillment.release(order.id)
    text = pdf_text(shop.shipping.pick_list_pdf("dc-milan"))
    assert "Pick list" in text
    assert "SHIRT-1 2 K-1 × 2" in text
    shipped = ship_all(shop, order.id)
    shipment = shipped.fulfillment_orders[0].shipments[0]
    text = pdf_text(shop.shipping.packing_slip_pdf(shipment.id))
    assert "Packing slip" in text
    assert "Order K-1" in text


# -- bad input -----------------------------------------------------------------------------------


def test_bad_lookups_are_typed_errors(shop: Oms) -> None:
    with pytest.raises(InvoiceNotFound):
        shop.invoices.get("2026/INV/999999")
    with pytest.raises(InvalidCommand):
        shop.invoices.get("")
    with pytest.raises(InvalidCommand):
        shop.invoices.search(limit=0)
    with pytest.raises(InvalidPeriod):
        shop.invoices.search(date_from=date(2026, 2, 1), date_to=date(2026, 1, 1))
    with pytest.raises(OrderNotFound):
        shop.invoices.credit_refund("o-1", "o-1.1", "o-1.1:refund:nothing")
    order = shop.orders.place(till_order("B-1", {"SHIRT-1": 1}))
    with pytest.raises(InvalidCommand, match="no successful refund"):
        shop.invoices.credit_refund(order.id, f"{order.id}.1", "nothing")


@pytest.mark.parametrize(("section", "wanted"), [
    ({"tax_rate": "-1"}, "invoices.tax_rate"),
    ({"tax_rate": "22.123456"}, "invoices.tax_rate"),
    ({"tax_classes": {"standard": "22"}, "sku_tax_classes": {"BOOK-*": "books"}},
     "invoices.sku_tax_classes.BOOK-*"),
    ({"number_format": "{number}"}, "invoices.number_format"),
    ({"number_format": "{year}/{series}/{number:06d}/{order}"}, "invoices.number_format"),
    ({"timezone": "Mars/Olympus"}, "invoices.timezone"),
    ({"series": {"invoice": "A B"}}, "invoices.series.invoice"),
    ({"seller": {"name": "X", "country": "Italy"}}, "invoices.seller.country"),
    ({"vat": 22}, "invoices.vat: unknown setting"),
])
def test_wrong_invoice_settings_stop_bootstrap(make_oms: Callable[..., Oms],
                                               section: dict[str, Any], wanted: str) -> None:
    with pytest.raises(InvalidSettings) as caught:
        make_oms(settings={"invoices": section})
    assert any(p.startswith(wanted) for p in caught.value.problems), caught.value.problems


def test_a_tax_rate_plugin_overrides_the_table_and_a_wrong_answer_names_it(
        make_oms: Callable[..., Oms]) -> None:
    class Zero:
        @hookimpl
        def omskit_tax_rate(self, line: OrderLine, order: Order) -> Decimal | None:
            return Decimal(0) if line.sku.startswith("BOOK") else None

    class Wrong:
        @hookimpl
        def omskit_tax_rate(self) -> object:
            return 0.22

    for plugin, outcome in ((Zero(), "ok"), (Wrong(), "error")):
        oms = make_oms(plugins=[plugin, ManualCarriers("brt")], settings=ITALY)
        oms.inventory.save_location(location("dc-milan", 45.47, 9.19))
        oms.inventory.receive("dc-milan", "BOOK-1", 5)
        oms.inventory.receive("dc-milan", "SHIRT-1", 5)
        order = ship_all(oms, oms.orders.place(till_order(f"T-{outcome}", {
            "BOOK-1": 1, "SHIRT-1": 1}, channel="web")).id)
        if outcome == "ok":
            (invoice,) = oms.invoices.for_order(order.id)
            assert [str(x.vat_rate) for x in invoice.lines] == ["0", "22"]
        else:
            shipment = order.fulfillment_orders[0].shipments[0]
            with pytest.raises(PluginError, match="omskit_tax_rate"):
                oms.invoices.invoice_shipment(order.id, shipment.id)
            assert oms.invoices.for_order(order.id) == []
