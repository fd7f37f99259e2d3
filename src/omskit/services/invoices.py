"""Invoices, credit notes and the journal (``oms.invoices``, ``oms.journal``).

Documents are issued by the core's event handlers (``services/handlers.py``), after the
payment ledger recorded what they stand for:

- an **invoice** per shipment once its goods are paid: a capture for that shipment
  succeeded (``payment.recorded``, or ``shipment.shipped`` right after the capture it
  triggers), or, for an order the channel was paid for up front (a till, a marketplace:
  ``record_channel_capture``), when the shipment leaves or is handed over;
- a **credit note** per successful refund of invoiced money.

Each is numbered in the transaction that writes it: the counter row of its series and year
is incremented there (:meth:`InvoiceRepository.next_number`), so concurrent issuers queue on
that row and a document rolled back gives its number back: no gap, no duplicate. A document
already issued for the same order, kind and source is returned instead, so a redelivered
event makes no second one. Each document and each capture or refund is posted to the journal
in its own transaction, once per posting key, with a ``journal.posted`` event.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any

import attrs
import sqlalchemy as sa

from omskit.documents import html_to_pdf, render_invoice
from omskit.domain.checks import check_code, check_count, check_identifier, refuse
from omskit.domain.errors import InvalidCommand, InvalidPeriod, InvoiceNotFound
from omskit.domain.events import Event, new_id
from omskit.domain.invoices import (
    CreditNoteIssued,
    DocumentKind,
    Invoice,
    InvoiceIssued,
    InvoiceLine,
    InvoiceSettings,
    JournalPosted,
    JournalPosting,
    Party,
    PostingKind,
    format_number,
    parse_invoice_settings,
    plan_credit,
    tax_line,
)
from omskit.domain.order import FulfillmentOrder, Order
from omskit.domain.payments import (
    PaymentAction,
    PaymentEntry,
    PaymentLedger,
    PaymentOutcome,
    PaymentTransactionKind,
    base_of,
    business_key,
)
from omskit.domain.shipping import Shipment
from omskit.domain.values import minor_units
from omskit.plugins import Hooks
from omskit.services.database import Database
from omskit.services.dispatch import EventDispatcher
from omskit.services.orders import OrderService, require_id
from omskit.services.payments import PaymentService
from omskit.store.invoices import InvoiceRepository
from omskit.store.payments import PaymentRepository
from omskit.store.uow import UnitOfWork

#: Most documents one ``oms.invoices.search`` call returns.
MAX_LIST = 10_000

#: The journal export's columns, in order (``docs/formats.md``, "Journal export").
JOURNAL_COLUMNS = ("posting_id", "posted_on", "posted_at", "kind", "document_number",
                   "order_id", "external_id", "channel", "account", "counter_account",
                   "vat_rate", "net", "vat", "gross", "currency", "reference")


def _repo(db: Database, uow: UnitOfWork) -> InvoiceRepository:
    return InvoiceRepository(uow.connection, db.tables, db.converter, uow.backend)


def _key(*parts: str) -> str:
    """A posting key from ``parts``, hashed when too long for an identifier."""
    key = "|".join(parts)
    return key if len(key) <= 128 else f"{parts[0]}|{hashlib.sha256(key.encode()).hexdigest()}"


def _posted(posting: JournalPosting, seq: int, order_id: str) -> JournalPosted:
    return JournalPosted(
        order=order_id, occurred_at=posting.posted_at, posting_id=seq,
        kind=posting.kind.value, document_number=posting.document_number,
        account=posting.account, counter_account=posting.counter_account,
        vat_rate=posting.vat_rate, net=posting.net, vat=posting.vat, gross=posting.gross,
        currency=posting.currency, posted_on=posting.posted_on)


def document_postings(invoice: Invoice, settings: InvoiceSettings) -> list[JournalPosting]:
    """An invoice's or credit note's postings: one per VAT rate, credit notes negative."""
    sign = 1 if invoice.kind is DocumentKind.INVOICE else -1
    kind = PostingKind(invoice.kind.value)
    accounts = settings.accounts
    return [JournalPosting(
        key=_key(invoice.id, str(t.vat_rate)), kind=kind, posted_at=invoice.issued_at,
        posted_on=invoice.issue_date, document_number=invoice.number,
        order_id=invoice.order_id, external_id=invoice.external_id, channel=invoice.channel,
        account=accounts.sales, counter_account=accounts.receivables, vat_rate=t.vat_rate,
        net=sign * t.net, vat=sign * t.vat, gross=sign * t.gross, currency=invoice.currency,
        reference=invoice.shipment_id or invoice.source) for t in invoice.vat_totals]


def _buyer(order: Order) -> Party:
    address = order.billing_address or order.shipping_address
    name = (address.name if address is not None and address.name
            else order.customer.contact.name)
    extra = order.metadata if isinstance(order.metadata, Mapping) else {}

    def text(key: str) -> str:
        value = extra.get(key, "")
        return value if isinstance(value, str) else ""

    return Party(name=name, address=address, vat_number=text("vat_number"),
                 tax_code=text("tax_code"), email=order.customer.contact.email,
                 phone=order.customer.contact.phone, customer_id=order.customer.id)


def _captures_for(ledgers: Sequence[PaymentLedger], references: Iterable[str]
                  ) -> tuple[bool, bool]:
    """(whether a capture was asked for any of ``references``, whether one succeeded)."""
    asked = succeeded = False
    for ledger in ledgers:
        if ledger.transaction.kind is not PaymentTransactionKind.PROVIDER:
            continue
        for reference in references:
            base = business_key(ledger.transaction.id, PaymentAction.CAPTURE, reference)
            for request in ledger.attempts(base):
                asked = True
                result = ledger.result_of(request.idempotency_key)
                succeeded |= result is not None and result.outcome is PaymentOutcome.SUCCESS
    return asked, succeeded


class InvoiceService:
    """Invoices and credit notes (``oms.invoices``)."""

    def __init__(self, *, db: Database, dispatcher: EventDispatcher,
                 clock: Callable[[], datetime], hooks: Hooks, settings: Mapping[str, Any],
                 orders: OrderService, payments: PaymentService) -> None:
        self._db = db
        self._dispatcher = dispatcher
        self._clock = clock
        self._hooks = hooks
        self._settings = settings
        self._orders = orders
        self._payments = payments
        self._config = parse_invoice_settings(self._settings, [])

    # -- reads ---------------------------------------------------------------------------------

    def get(self, number: str) -> Invoice:
        """The invoice or credit note with this number (``2026/INV/000001``) or id, or
        :class:`InvoiceNotFound`."""
        problems: list[str] = []
        if not isinstance(number, str) or not number.strip() or len(number) > 128:
            problems.append(f"number: must be a document number, not {number!r}")
        refuse(problems, "lookup")
        with self._db.uow() as uow:
            found = _repo(self._db, uow).get(number)
        if found is None:
            raise InvoiceNotFound(number)
        return found

    def for_order(self, order_id: str) -> list[Invoice]:
        """The order's invoices and credit notes, in issue order."""
        require_id(order_id, "order_id")
        with self._db.uow() as uow:
            return _repo(self._db, uow).for_order(order_id)

    def search(self, *, kind: DocumentKind | None = None, order_id: str | None = None,
             channel: str | None = None, date_from: date | None = None,
             date_to: date | None = None, limit: int = 50) -> list[Invoice]:
        """Documents matching every filter given (issue dates inclusive), newest first."""
        problems: list[str] = []
        given: object = kind
        if given is not None and not isinstance(given, DocumentKind):
            problems.append(f"kind: must be a DocumentKind, not {given!r}")
        if order_id is not None:
            check_identifier(order_id, "order_id", problems)
        if channel is not None:
            check_code(channel, "channel", problems)
        check_count(limit, "limit", problems, minimum=1, maximum=MAX_LIST)
        for name, value in (("date_from", date_from), ("date_to", date_to)):
            if value is not None and (not isinstance(value, date) or isinstance(value,
                                                                                datetime)):
                problems.append(f"{name}: must be a date, not {value!r}")
        refuse(problems, "invoice list")
        if date_from is not None and date_to is not None and date_from > date_to:
            raise InvalidPeriod(date_from, date_to)
        with self._db.uow() as uow:
            return _repo(self._db, uow).search(kind=kind, order_id=order_id, channel=channel,
                                               date_from=date_from, date_to=date_to,
                                               limit=limit)

    def html(self, number: str) -> str:
        """The document as an HTML page (jinja2, ``invoice.html.j2``)."""
        return render_invoice(self.get(number))

    def pdf(self, number: str) -> bytes:
        """The document as a PDF (WeasyPrint; ``PdfUnavailable`` without it)."""
        return html_to_pdf(self.html(number))

    # -- the core's reactions (services/handlers.py) --------------------------------------------

    def invoice_shipment(self, order_id: str, shipment_id: str) -> Invoice | None:
        """Invoice a shipment that left, once its goods are paid: a capture for it (or for
        its fulfilment order) succeeded, or none was asked because the order's funds were
        captured already (by the channel, a till or a marketplace, or before shipping).
        Returns the invoice (the one issued before, if any), or ``None`` while unpaid: a
        capture pending or failed, an order with no captured funds, an order with no
        payment transactions at all (paid outside omskit). Safe to call again."""
        require_id(order_id, "order_id")
        require_id(shipment_id, "shipment_id")
        with self._db.uow() as uow:
            # The ledger first: most orders are paid outside omskit (no transactions), and
            # their shipments then cost one query here, not an order load.
            payments = PaymentRepository(uow.connection, self._db.tables)
            ledgers = payments.ledgers(payments.transactions(order_id))
            found = _repo(self._db, uow).by_source(order_id, DocumentKind.INVOICE,
                                                   shipment_id) if ledgers else None
        if not ledgers:
            return None
        if found is not None:
            return found
        order = self._orders.get(order_id)
        fo, shipment = order.shipment(shipment_id)
        if shipment.shipped_at is None:
            return None
        asked, succeeded = _captures_for(ledgers, (shipment.id, fo.id))
        paid = succeeded if asked else any(x.captured.amount > 0 for x in ledgers)
        if not paid:
            return None
        return self._invoice(order, fo, shipment)

    def invoice_captured(self, order_id: str) -> list[Invoice]:
        """Invoice every shipment of the order that left and whose capture succeeded (a
        capture a webhook or a reconciliation recorded late, too); returns the invoices
        issued now."""
        require_id(order_id, "order_id")
        order = self._orders.get(order_id)
        ledgers = self._payments.transactions(order_id)
        with self._db.uow() as uow:
            repo = _repo(self._db, uow)
            done = {i.source for i in repo.for_order(order.id)
                    if i.kind is DocumentKind.INVOICE}
        issued = []
        for fo in order.fulfillment_orders:
            for shipment in fo.shipments:
                if shipment.shipped_at is None or shipment.id in done:
                    continue
                if _captures_for(ledgers, (shipment.id, fo.id))[1]:
                    issued.append(self._invoice(order, fo, shipment))
        return issued

    def credit_refund(self, order_id: str, transaction_id: str,
                      idempotency_key: str) -> Invoice | None:
        """Issue the credit note of a successful refund (the ledger entry under
        ``idempotency_key``), crediting what the order's invoices still hold (see
        ``plan_credit``); ``None`` when nothing invoiced is left to credit. Safe to call
        again: the refund's credit note is returned."""
        require_id(order_id, "order_id")
        entry = self._entry(order_id, transaction_id, idempotency_key, PaymentAction.REFUND)
        order = self._orders.get(order_id)
        with self._db.uow() as uow:
            repo = _repo(self._db, uow)
            found = repo.by_source(order.id, DocumentKind.CREDIT_NOTE, entry.idempotency_key)
            documents = repo.for_order(order.id)
        if found is not None:
            return found
        plan = plan_credit(
            entry.amount.amount, order.currency,
            [d for d in documents if d.kind is DocumentKind.INVOICE],
            [d for d in documents if d.kind is DocumentKind.CREDIT_NOTE])
        if plan is None:
            return None
        reference = base_of(entry.idempotency_key).partition(":refund:")[2] or "refund"
        return self._issue(order, DocumentKind.CREDIT_NOTE, entry.idempotency_key,
                           plan.lines, credits=plan.credits, mirrors=plan.mirrors,
                           reason=f"Refund {reference}")

    # -- issuing ---------------------------------------------------------------------------------

    def _entry(self, order_id: str, transaction_id: str, key: str,
               action: PaymentAction) -> PaymentEntry:
        for ledger in self._payments.transactions(order_id):
            if ledger.transaction.id != transaction_id:
                continue
            found = ledger.result_of(key)
            if found is not None and found.outcome is PaymentOutcome.SUCCESS \
                    and found.action is action:
                return found
        raise InvalidCommand([f"idempotency_key: no successful {action.value} {key!r} on "
                              f"payment transaction {transaction_id!r}"], subject="lookup")

    def _invoice(self, order: Order, fo: FulfillmentOrder, shipment: Shipment) -> Invoice:
        by_id = {line.line_id: line for line in order.lines}
        lines: list[InvoiceLine] = []
        for shipped in shipment.lines:
            line = by_id[shipped.line_id]
            rate = self._hooks.tax_rate(line, order, self._settings)
            lines.append(tax_line(
                position=len(lines) + 1, description=line.sku, line_id=line.line_id,
                sku=line.sku, quantity=shipped.quantity, unit_price=line.unit_price,
                vat_rate=rate, currency=order.currency))
        return self._issue(order, DocumentKind.INVOICE, shipment.id, lines,
                           shipment_id=shipment.id)

    def _issue(self, order: Order, kind: DocumentKind, source: str,
               lines: Sequence[InvoiceLine], *, shipment_id: str | None = None,
               credits: tuple[str, ...] = (), mirrors: bool = False,
               reason: str = "") -> Invoice:
        """Number and write one document with its postings, in one transaction; the one
        issued before for ``source`` if another caller was first."""
        config = self._config
        series = config.series_for(order.channel).of(kind)

        def attempt() -> tuple[Invoice, list[Event]]:
            at = self._clock()
            local = at.astimezone(config.zone())
            with self._db.uow() as uow:
                repo = _repo(self._db, uow)
                found = repo.by_source(order.id, kind, source)
                if found is not None:
                    return found, []
                sequence = repo.next_number(series, local.year)
                # Read again under the counter's lock: a concurrent issuer of the same
                # document committed while this one waited (READ COMMITTED sees it now).
                found = repo.by_source(order.id, kind, source)
                if found is not None:
                    return found, []  # rolled back: the number is given back
                invoice = Invoice(
                    id=new_id(), kind=kind,
                    number=format_number(config.number_format, series=series,
                                         year=local.year, number=sequence),
                    series=series, year=local.year, sequence=sequence, order_id=order.id,
                    external_id=order.external_id, channel=order.channel,
                    currency=order.currency, issued_at=at, issue_date=local.date(),
                    seller=config.seller, buyer=_buyer(order), lines=tuple(lines),
                    source=source, shipment_id=shipment_id, credits=credits,
                    mirrors=mirrors, reason=reason)
                repo.add(invoice)
                for posting in document_postings(invoice, config):
                    seq = repo.post(posting)
                    if seq is not None:
                        uow.emit(_posted(posting, seq, order.id))
                uow.emit(_issued(invoice))
                return invoice, uow.commit()

        invoice, events = self._db.retrying(attempt)
        self._dispatcher.dispatch(events)
        return invoice


def _issued(invoice: Invoice) -> Event:
    if invoice.kind is DocumentKind.INVOICE:
        return InvoiceIssued(order=invoice.order_id, occurred_at=invoice.issued_at,
                             invoice_id=invoice.id, number=invoice.number,
                             shipment_id=invoice.shipment_id or "", currency=invoice.currency,
                             net=invoice.net, vat=invoice.vat, gross=invoice.gross)
    return CreditNoteIssued(order=invoice.order_id, occurred_at=invoice.issued_at,
                            credit_note_id=invoice.id, number=invoice.number,
                            credits=invoice.credits, currency=invoice.currency,
                            net=invoice.net, vat=invoice.vat, gross=invoice.gross)


class JournalService:
    """The journal of postings and its export (``oms.journal``)."""

    def __init__(self, *, db: Database, dispatcher: EventDispatcher,
                 settings: Mapping[str, Any], orders: OrderService,
                 payments: PaymentService) -> None:
        self._db = db
        self._dispatcher = dispatcher
        self._settings = settings
        self._orders = orders
        self._payments = payments
        self._config = parse_invoice_settings(self._settings, [])

    def postings(self, date_from: date, date_to: date) -> list[JournalPosting]:
        """Postings dated ``date_from`` to ``date_to`` (both included, in
        ``invoices.timezone``), in the order they were written. ``date_from`` after
        ``date_to`` is :class:`InvalidPeriod`."""
        problems: list[str] = []
        for name, value in (("date_from", date_from), ("date_to", date_to)):
            if not isinstance(value, date) or isinstance(value, datetime):
                problems.append(f"{name}: must be a date, not {value!r}")
        refuse(problems, "journal export")
        if date_from > date_to:
            raise InvalidPeriod(date_from, date_to)
        with self._db.uow() as uow:
            return list(_repo(self._db, uow).postings(date_from, date_to))

    def export(self, date_from: date, date_to: date, out: IO[str]) -> int:
        """Write the postings of the period to ``out`` as CSV (``docs/formats.md``,
        "Journal export"); returns how many were written."""
        found = self.postings(date_from, date_to)
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(JOURNAL_COLUMNS)
        for p in found:
            writer.writerow(_row(p))
        return len(found)

    def export_text(self, date_from: date, date_to: date) -> str:
        """The CSV of :meth:`export`, as text."""
        out = io.StringIO()
        self.export(date_from, date_to, out)
        return out.getvalue()

    # -- the core's reaction to payment.recorded ---------------------------------------------

    def post_payment(self, order_id: str, transaction_id: str,
                     idempotency_key: str) -> JournalPosting | None:
        """Post a successful capture or refund (the ledger entry under
        ``idempotency_key``) to the journal, once; ``None`` if it was posted before or is
        not a capture or refund."""
        require_id(order_id, "order_id")
        for ledger in self._payments.transactions(order_id):
            tx = ledger.transaction
            entry = ledger.result_of(idempotency_key) if tx.id == transaction_id else None
            if entry is None or entry.outcome is not PaymentOutcome.SUCCESS or \
                    entry.action not in (PaymentAction.CAPTURE, PaymentAction.REFUND):
                continue
            order = self._orders.get(order_id)
            sign = 1 if entry.action is PaymentAction.CAPTURE else -1
            accounts = self._config.accounts
            amount = sign * entry.amount.amount
            posting = JournalPosting(
                key=_key(tx.id, entry.idempotency_key),
                kind=PostingKind(entry.action.value), posted_at=entry.occurred_at,
                posted_on=entry.occurred_at.astimezone(self._config.zone()).date(),
                order_id=order.id, external_id=order.external_id, channel=order.channel,
                account=accounts.payment(tx.provider), counter_account=accounts.receivables,
                net=amount, vat=Decimal(0).scaleb(-minor_units(order.currency)),
                gross=amount, currency=order.currency, reference=entry.idempotency_key)
            return self._post(posting)
        return None

    def _post(self, posting: JournalPosting) -> JournalPosting | None:
        def attempt() -> tuple[int | None, list[Event]]:
            try:
                with self._db.uow() as uow:
                    seq = _repo(self._db, uow).post(posting)
                    if seq is None:
                        return None, []
                    uow.emit(_posted(posting, seq, posting.order_id))
                    return seq, uow.commit()
            except sa.exc.IntegrityError:
                return None, []  # a concurrent delivery of the same entry posted it first

        seq, events = self._db.retrying(attempt)
        self._dispatcher.dispatch(events)
        return None if seq is None else attrs.evolve(posting, id=seq)


def _row(p: JournalPosting) -> list[str]:
    return [str(p.id), p.posted_on.isoformat(), p.posted_at.isoformat(), p.kind.value,
            p.document_number, p.order_id, p.external_id, p.channel, p.account,
            p.counter_account, "" if p.vat_rate is None else str(p.vat_rate), str(p.net),
            str(p.vat), str(p.gross), p.currency, p.reference]
