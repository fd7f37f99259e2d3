"""The invoice repository: documents, their numbering counters and the journal."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import cattrs
import sqlalchemy as sa

from omskit.domain.invoices import DocumentKind, Invoice, JournalPosting, PostingKind
from omskit.store.backends.base import StoreBackend
from omskit.store.tables import Tables


class InvoiceRepository:
    """Reads and writes documents and postings on one connection (the caller's transaction).

    :meth:`next_number` is how a document gets its number: one conditional ``UPDATE`` of
    its series' and year's counter row, which holds the row's lock until the transaction
    that writes the document ends (SQLite's write lock does the same), so concurrent
    issuers queue, and a rolled-back document takes its number back with it.
    """

    def __init__(self, connection: sa.Connection, tables: Tables, converter: cattrs.Converter,
                 backend: StoreBackend) -> None:
        self._conn = connection
        self._t = tables
        self._converter = converter
        self._backend = backend

    # -- numbering -----------------------------------------------------------------------------

    def next_number(self, series: str, year: int) -> int:
        """The next number of ``series`` in ``year`` (1 for the first), counted in this
        transaction; the counter row stays locked until it ends."""
        c = self._t.document_counters
        self._backend.insert_missing(self._conn, c, {"series": series, "year": year,
                                                      "last_number": 0},
                                     [c.c.series, c.c.year])
        return int(self._conn.execute(
            c.update().where(c.c.series == series, c.c.year == year)
            .values(last_number=c.c.last_number + 1).returning(c.c.last_number)).scalar_one())

    # -- documents -----------------------------------------------------------------------------

    def add(self, invoice: Invoice) -> None:
        """Insert a new document (never changed afterwards)."""
        body = self._converter.unstructure(invoice)
        self._conn.execute(self._t.invoices.insert().values(
            id=invoice.id, kind=invoice.kind.value, number=invoice.number,
            series=invoice.series, year=invoice.year, sequence=invoice.sequence,
            order_id=invoice.order_id, external_id=invoice.external_id,
            channel=invoice.channel, currency=invoice.currency, issued_at=invoice.issued_at,
            issue_date=invoice.issue_date, source=invoice.source,
            shipment_id=invoice.shipment_id, net=invoice.net, vat=invoice.vat,
            gross=invoice.gross,
            document={k: body[k] for k in ("seller", "buyer", "lines", "credits", "mirrors",
                                            "reason")}))

    def by_source(self, order_id: str, kind: DocumentKind, source: str) -> Invoice | None:
        """The order's document of ``kind`` issued for ``source``, if any."""
        t = self._t.invoices
        row = self._conn.execute(sa.select(t).where(
            t.c.order_id == order_id, t.c.kind == kind.value, t.c.source == source)
        ).mappings().first()
        return None if row is None else self._invoice(row)

    def get(self, number_or_id: str) -> Invoice | None:
        """The document with this number (or id)."""
        t = self._t.invoices
        row = self._conn.execute(sa.select(t).where(
            sa.or_(t.c.number == number_or_id, t.c.id == number_or_id))).mappings().first()
        return None if row is None else self._invoice(row)

    def for_order(self, order_id: str) -> list[Invoice]:
        """The order's documents, in issue order."""
        t = self._t.invoices
        # Invoices before credit notes issued at the same moment: a credit note follows
        # what it credits.
        kind_order = sa.case((t.c.kind == DocumentKind.INVOICE.value, 0), else_=1)
        rows = self._conn.execute(sa.select(t).where(t.c.order_id == order_id)
                                  .order_by(t.c.issued_at, kind_order, t.c.series,
                                            t.c.sequence))
        return [self._invoice(r) for r in rows.mappings()]

    def search(self, *, kind: DocumentKind | None, order_id: str | None, channel: str | None,
               date_from: date | None, date_to: date | None, limit: int) -> list[Invoice]:
        """Documents matching every filter given, newest first."""
        t = self._t.invoices
        query = sa.select(t)
        if kind is not None:
            query = query.where(t.c.kind == kind.value)
        if order_id is not None:
            query = query.where(t.c.order_id == order_id)
        if channel is not None:
            query = query.where(t.c.channel == channel)
        if date_from is not None:
            query = query.where(t.c.issue_date >= date_from)
        if date_to is not None:
            query = query.where(t.c.issue_date <= date_to)
        rows = self._conn.execute(query.order_by(
            t.c.issued_at.desc(), t.c.series, t.c.sequence.desc()).limit(limit))
        return [self._invoice(r) for r in rows.mappings()]

    def _invoice(self, row: Any) -> Invoice:
        data = dict(row["document"])
        data.update(id=row["id"], kind=row["kind"], number=row["number"],
                    series=row["series"], year=row["year"], sequence=row["sequence"],
                    order_id=row["order_id"], external_id=row["external_id"],
                    channel=row["channel"], currency=row["currency"],
                    issued_at=row["issued_at"], issue_date=row["issue_date"].isoformat(),
                    source=row["source"], shipment_id=row["shipment_id"])
        return self._converter.structure(data, Invoice)

    # -- journal -------------------------------------------------------------------------------

    def post(self, posting: JournalPosting) -> int | None:
        """Append a posting unless one with its key is there; its ``seq``, or ``None`` when
        it was posted before."""
        t = self._t.journal_postings
        found = self._conn.execute(
            sa.select(t.c.seq).where(t.c.posting_key == posting.key)).scalar()
        if found is not None:
            return None
        return int(self._conn.execute(t.insert().values(
            posting_key=posting.key, kind=posting.kind.value, posted_at=posting.posted_at,
            posted_on=posting.posted_on, document_number=posting.document_number,
            order_id=posting.order_id, external_id=posting.external_id,
            channel=posting.channel, account=posting.account,
            counter_account=posting.counter_account, vat_rate=posting.vat_rate,
            net=posting.net, vat=posting.vat, gross=posting.gross, currency=posting.currency,
            reference=posting.reference).returning(t.c.seq)).scalar_one())

    def postings(self, date_from: date, date_to: date) -> Sequence[JournalPosting]:
        """Postings dated ``date_from`` to ``date_to`` (inclusive), in write order."""
        t = self._t.journal_postings
        rows = self._conn.execute(sa.select(t).where(
            t.c.posted_on >= date_from, t.c.posted_on <= date_to).order_by(t.c.seq))
        return [JournalPosting(
            id=int(r["seq"]), key=r["posting_key"], kind=PostingKind(r["kind"]),
            posted_at=r["posted_at"], posted_on=r["posted_on"],
            document_number=r["document_number"], order_id=r["order_id"],
            external_id=r["external_id"], channel=r["channel"], account=r["account"],
            counter_account=r["counter_account"],
            vat_rate=None if r["vat_rate"] is None else Decimal(r["vat_rate"]),
            net=Decimal(r["net"]), vat=Decimal(r["vat"]), gross=Decimal(r["gross"]),
            currency=r["currency"], reference=r["reference"]) for r in rows.mappings()]
