"""Invoices, credit notes and the journal: the values, the VAT arithmetic and the settings.

An **invoice** is issued per shipment once its goods are paid for (a capture for that
shipment, or funds the channel captured before it shipped); a **credit note** per refund of
invoiced money. Each gets the next number of its series and year, without gaps
(``docs/invoices.md``). A **journal posting** is one line an accountant imports: an invoice
or credit note per VAT rate, a capture or a refund.

The arithmetic lives here, pure: line prices are what the customer pays (VAT included,
as captured), so each line's VAT is ``gross × rate / (100 + rate)`` rounded **half up** to
the currency's minor unit, and its net is ``gross − VAT``. Totals per rate and per document
are sums of the rounded lines. A credit note mirrors the invoices it credits line by line
when it credits them whole; otherwise it credits per VAT rate, in proportion to what is
still uncredited at each rate, rounded the same way and never beyond what is left.

Pure Python: no database, no templates.
"""

from __future__ import annotations

import enum
import fnmatch
import re
import string
import zoneinfo
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, localcontext
from typing import Any, ClassVar

import attrs

from omskit.domain.events import OrderEvent
from omskit.domain.values import Address, decimal_places, minor_units, trimmed

#: Highest VAT rate accepted, in percent.
MAX_TAX_RATE = Decimal(100)
#: Most decimals of a VAT rate (``5.5``, ``8.1``, ``7.7``).
TAX_RATE_PLACES = 4
#: The default number format: ``2026/INV/000123``.
DEFAULT_NUMBER_FORMAT = "{year}/{series}/{number:06d}"
#: Rounding of each line's VAT to the currency's minor unit (decision record: half up,
#: the commercial rounding Italian and most EU VAT rules use).
ROUNDING = ROUND_HALF_UP


class DocumentKind(enum.StrEnum):
    """What a document is."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class PostingKind(enum.StrEnum):
    """What a journal posting records."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    CAPTURE = "capture"
    REFUND = "refund"


@attrs.frozen(kw_only=True)
class Party:
    """The seller or the buyer of a document, as printed on it (a snapshot)."""

    name: str = ""
    address: Address | None = None
    #: VAT registration number (``IT01234567890``).
    vat_number: str = ""
    #: A national tax code (Italy's codice fiscale), when there is one.
    tax_code: str = ""
    email: str = ""
    phone: str = ""
    #: The host's customer id (buyer only).
    customer_id: str = ""


@attrs.frozen(kw_only=True)
class InvoiceLine:
    """One line of an invoice or credit note: amounts in the document's currency, with the
    line's VAT rounded on its own."""

    position: int
    description: str
    #: The order line it invoices (empty for a credit note's adjustment per rate).
    line_id: str = ""
    sku: str = ""
    quantity: int = 1
    #: Price of one unit, VAT included (the order line's price).
    unit_price: Decimal
    #: In percent (``22``).
    vat_rate: Decimal
    net: Decimal
    vat: Decimal
    gross: Decimal


@attrs.frozen(kw_only=True)
class VatTotal:
    """A document's amounts at one VAT rate: sums of its rounded lines."""

    vat_rate: Decimal
    net: Decimal
    vat: Decimal
    gross: Decimal


@attrs.frozen(kw_only=True)
class Invoice:
    """An invoice or a credit note, as issued: numbered, immutable.

    ``number`` is the formatted document number (``2026/INV/000123``), unique; ``sequence``
    its place in ``series`` and ``year`` (1, 2, 3... without gaps).
    """

    id: str
    kind: DocumentKind
    number: str
    series: str
    year: int
    sequence: int
    order_id: str
    #: The channel's own id of the order (``W-1``).
    external_id: str
    channel: str
    currency: str
    issued_at: datetime
    #: The day of issue in the deployment's time zone (``invoices.timezone``).
    issue_date: date
    seller: Party
    buyer: Party
    lines: tuple[InvoiceLine, ...]
    #: What it was issued for: the shipment's id (invoice), the refund's payment key
    #: (credit note). One document per order, kind and source.
    source: str
    #: The shipment an invoice is for.
    shipment_id: str | None = None
    #: For a credit note: the numbers of the invoices it credits.
    credits: tuple[str, ...] = ()
    #: For a credit note: whether it mirrors those invoices line by line (else: per rate).
    mirrors: bool = False
    #: Why (a credit note's refund reason).
    reason: str = ""

    @property
    def net(self) -> Decimal:
        """The document's net total."""
        return _sum(x.net for x in self.lines)

    @property
    def vat(self) -> Decimal:
        """The document's VAT total."""
        return _sum(x.vat for x in self.lines)

    @property
    def gross(self) -> Decimal:
        """The document's total, VAT included."""
        return _sum(x.gross for x in self.lines)

    @property
    def vat_totals(self) -> tuple[VatTotal, ...]:
        """Net, VAT and gross per VAT rate, highest rate first."""
        return vat_totals(self.lines)


@attrs.frozen(kw_only=True)
class JournalPosting:
    """One line of the journal (``docs/formats.md``, "Journal export"). Amounts are signed:
    credit notes and refunds are negative."""

    #: Write order in the journal (0 until stored).
    id: int = 0
    #: Unique per posting: a document's id and rate, a payment entry's key.
    key: str
    kind: PostingKind
    posted_at: datetime
    #: The day in the deployment's time zone.
    posted_on: date
    document_number: str = ""
    order_id: str
    external_id: str
    channel: str
    account: str
    counter_account: str
    #: In percent, for documents (``None`` for payments, which carry no VAT).
    vat_rate: Decimal | None = None
    net: Decimal
    vat: Decimal
    gross: Decimal
    currency: str
    #: The shipment (invoice), the refund's payment key (credit note), the payment entry's
    #: idempotency key (capture, refund).
    reference: str = ""


def _sum(values: Iterable[Decimal]) -> Decimal:
    return sum(values, Decimal(0))


def vat_totals(lines: Iterable[InvoiceLine]) -> tuple[VatTotal, ...]:
    """Net, VAT and gross per VAT rate over ``lines``, highest rate first."""
    by_rate: dict[Decimal, list[InvoiceLine]] = {}
    for line in lines:
        by_rate.setdefault(line.vat_rate, []).append(line)
    return tuple(VatTotal(vat_rate=rate, net=_sum(x.net for x in found),
                          vat=_sum(x.vat for x in found), gross=_sum(x.gross for x in found))
                 for rate, found in sorted(by_rate.items(), key=lambda kv: -kv[0]))


# -- VAT arithmetic -------------------------------------------------------------------------


def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def vat_of(gross: Decimal, rate: Decimal, currency: str) -> Decimal:
    """The VAT included in ``gross`` at ``rate`` percent, rounded half up to the currency's
    minor unit: ``gross × rate / (100 + rate)``."""
    with localcontext() as ctx:
        ctx.prec = 60
        exact = gross * rate / (Decimal(100) + rate)
        return exact.quantize(_quantum(currency), rounding=ROUNDING)


def tax_line(*, position: int, description: str, line_id: str, sku: str, quantity: int,
             unit_price: Decimal, vat_rate: Decimal, currency: str) -> InvoiceLine:
    """An invoice line for ``quantity`` units at ``unit_price`` (VAT included)."""
    gross = (unit_price * quantity).quantize(_quantum(currency))
    vat = vat_of(gross, vat_rate, currency)
    return InvoiceLine(position=position, description=description, line_id=line_id, sku=sku,
                       quantity=quantity, unit_price=unit_price, vat_rate=trimmed(vat_rate),
                       net=gross - vat, vat=vat, gross=gross)


def _allocate(amount: Decimal, weights: Sequence[Decimal], currency: str) -> list[Decimal]:
    """``amount`` shared in proportion to ``weights`` in whole minor units (largest
    remainder; ties to the first): the parts add up to ``amount`` exactly."""
    quantum = _quantum(currency)
    total = _sum(weights)
    with localcontext() as ctx:
        ctx.prec = 60
        exact = [amount * w / total for w in weights]
        parts = [e.quantize(quantum, rounding=ROUND_FLOOR) for e in exact]
    left = int((amount - _sum(parts)) / quantum)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - parts[i]), i))
    for i in order[:left]:
        parts[i] += quantum
    return parts


@attrs.frozen(kw_only=True)
class CreditPlan:
    """What a credit note for a refund holds: its lines, the invoices it credits and
    whether it mirrors them line by line."""

    lines: tuple[InvoiceLine, ...]
    credits: tuple[str, ...]
    mirrors: bool


def plan_credit(amount: Decimal, currency: str, invoices: Sequence[Invoice],
                credit_notes: Sequence[Invoice]) -> CreditPlan | None:
    """The credit note for a refund of ``amount`` on an order with ``invoices`` and earlier
    ``credit_notes`` (oldest first), or ``None`` when nothing invoiced is left to credit.

    - A refund of what is left of invoices nobody credited in part is credited **line by
      line**: all of them, or the latest one whose total it equals.
    - Otherwise it is credited **per VAT rate**, in proportion to what each rate still has
      uncredited (the whole remainder exactly when the refund is all of it), each part's
      VAT rounded like an invoice line's and kept within the VAT left at that rate.
    - At most what the invoices still hold is credited: the rest of a larger refund (money
      never invoiced, such as a prepayment) has no credit note.
    """
    left = _left_per_rate(invoices, credit_notes)
    total = _sum(gross for _, _, gross in left.values())
    if total <= 0 or amount <= 0:
        return None
    amount = min(amount, total)
    credited = {n for note in credit_notes for n in note.credits}
    whole = all(note.mirrors for note in credit_notes)
    if whole:
        open_invoices = [i for i in invoices if i.number not in credited]
        if open_invoices and amount == _sum(i.gross for i in open_invoices):
            return _mirror(open_invoices)
        for invoice in reversed(open_invoices):
            if invoice.gross == amount:
                return _mirror([invoice])
    rates = sorted(left, reverse=True)
    if amount == total:
        parts = [left[r][2] for r in rates]
    else:
        parts = _allocate(amount, [left[r][2] for r in rates], currency)
    lines: list[InvoiceLine] = []
    for rate, gross in zip(rates, parts, strict=True):
        if gross <= 0:
            continue
        _net_left, vat_left, gross_left = left[rate]
        if gross == gross_left:
            vat = vat_left  # the remainder exactly: rate by rate, credits sum to invoices
        else:
            # Rounded like a line, but never leaving more VAT than gross, nor less than none.
            vat = min(max(vat_of(gross, rate, currency), vat_left - (gross_left - gross)),
                      vat_left, gross)
        lines.append(InvoiceLine(
            position=len(lines) + 1, description=f"Credit at {rate} % VAT",
            unit_price=gross, vat_rate=rate, net=gross - vat, vat=vat, gross=gross))
    related = tuple(i.number for i in invoices if i.number not in credited or not whole)
    return CreditPlan(lines=tuple(lines), credits=related, mirrors=False)


def _mirror(invoices: Sequence[Invoice]) -> CreditPlan:
    lines = [attrs.evolve(line, position=n)
             for n, line in enumerate((x for i in invoices for x in i.lines), start=1)]
    return CreditPlan(lines=tuple(lines), credits=tuple(i.number for i in invoices),
                      mirrors=True)


def _left_per_rate(invoices: Sequence[Invoice], credit_notes: Sequence[Invoice]
                   ) -> dict[Decimal, tuple[Decimal, Decimal, Decimal]]:
    """(net, VAT, gross) per rate that the invoices hold and no credit note took back."""
    left: dict[Decimal, tuple[Decimal, Decimal, Decimal]] = {}
    for sign, documents in ((1, invoices), (-1, credit_notes)):
        for t in (t for d in documents for t in d.vat_totals):
            net, vat, gross = left.get(t.vat_rate, (Decimal(0), Decimal(0), Decimal(0)))
            left[t.vat_rate] = (net + sign * t.net, vat + sign * t.vat,
                                gross + sign * t.gross)
    return {rate: amounts for rate, amounts in left.items() if amounts[2] > 0}


# -- numbering -------------------------------------------------------------------------------


def format_number(number_format: str, *, series: str, year: int, number: int) -> str:
    """The document number: ``number_format`` filled in (``2026/INV/000123``)."""
    return number_format.format(series=series, year=year, number=number)


# -- settings (``settings["invoices"]``) ------------------------------------------------------


@attrs.frozen(kw_only=True)
class Series:
    """The series of invoices and of credit notes (each numbered on its own per year)."""

    invoice: str = "INV"
    credit_note: str = "CN"

    def of(self, kind: DocumentKind) -> str:
        """The series of ``kind``."""
        return self.invoice if kind is DocumentKind.INVOICE else self.credit_note


@attrs.frozen(kw_only=True)
class Accounts:
    """Account codes the journal names."""

    sales: str = "sales"
    receivables: str = "receivables"
    payments: str = "payments"
    #: Per payment provider or channel: where its money lands (default ``payments:<code>``).
    by_provider: Mapping[str, str] = attrs.field(factory=dict)

    def payment(self, provider: str) -> str:
        """The account of money captured or refunded through ``provider``."""
        return self.by_provider.get(provider, f"{self.payments}:{provider}")


@attrs.frozen(kw_only=True)
class InvoiceSettings:
    """``settings["invoices"]`` of ``bootstrap`` (all optional; ``docs/invoices.md``)."""

    seller: Party = attrs.field(factory=Party)
    timezone: str = "UTC"
    number_format: str = DEFAULT_NUMBER_FORMAT
    series: Series = attrs.field(factory=Series)
    #: Per channel: its own series.
    channel_series: Mapping[str, Series] = attrs.field(factory=dict)
    #: The rate of SKUs no tax class names, in percent (the core default: 0).
    tax_rate: Decimal = Decimal(0)
    #: Tax class → rate in percent (``{"standard": 22, "reduced": 10}``).
    tax_classes: Mapping[str, Decimal] = attrs.field(factory=dict)
    #: SKU pattern (``fnmatch``: ``BOOK-*``) → tax class; the first match in order wins.
    sku_tax_classes: tuple[tuple[str, str], ...] = ()
    accounts: Accounts = attrs.field(factory=Accounts)

    def series_for(self, channel: str) -> Series:
        """The series documents of ``channel`` are numbered in."""
        return self.channel_series.get(channel, self.series)

    def zone(self) -> zoneinfo.ZoneInfo:
        """The time zone issue dates and posting dates are taken in."""
        return zoneinfo.ZoneInfo(self.timezone)

    def rate_of(self, sku: str) -> Decimal:
        """The VAT rate of ``sku`` from the settings table (the core default)."""
        for pattern, tax_class in self.sku_tax_classes:
            if fnmatch.fnmatchcase(sku, pattern):
                return self.tax_classes[tax_class]
        return self.tax_rate


_SERIES = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
_KNOWN = {"seller", "timezone", "number_format", "series", "channel_series", "tax_rate",
          "tax_classes", "sku_tax_classes", "accounts"}
_PARTY = {"name", "vat_number", "tax_code", "email", "phone", "line1", "line2",
          "postal_code", "city", "region", "country"}


def _rate(value: object, path: str, problems: list[str]) -> Decimal | None:
    # A TOML float (5.5) is read as it was written: str() gives its shortest repr.
    try:
        rate = Decimal(str(value)) if isinstance(value, int | float | str | Decimal) and \
            not isinstance(value, bool) else None
    except ArithmeticError:
        rate = None
    if rate is None or not rate.is_finite() or not 0 <= rate <= MAX_TAX_RATE or \
            decimal_places(rate) > TAX_RATE_PLACES:
        problems.append(f"{path}: must be a rate in percent from 0 to 100 with at most "
                        f"{TAX_RATE_PLACES} decimals (a string like \"22\" or \"5.5\"), "
                        f"got {value!r}")
        return None
    return trimmed(rate)


def _series(value: object, path: str, problems: list[str]) -> Series | None:
    if not isinstance(value, Mapping) or set(value) - {"invoice", "credit_note"}:
        problems.append(f"{path}: must be a table with invoice and credit_note series names")
        return None
    found = Series(**dict(value))
    for key in ("invoice", "credit_note"):
        name = getattr(found, key)
        if not isinstance(name, str) or not _SERIES.match(name):
            problems.append(f"{path}.{key}: must be 1-32 letters, digits or _ . - "
                            f"(got {name!r})")
            return None
    return found


def _party(value: object, path: str, problems: list[str]) -> Party:
    if not isinstance(value, Mapping):
        problems.append(f"{path}: must be a table (name, vat_number, line1, city, country...)")
        return Party()
    problems.extend(f"{path}.{k}: unknown setting" for k in sorted(set(value) - _PARTY))
    texts = {k: v for k, v in value.items() if k in _PARTY}
    bad = sorted(k for k, v in texts.items() if not isinstance(v, str) or len(v) > 500)
    problems.extend(f"{path}.{k}: must be text" for k in bad)
    if bad:
        return Party()
    address = None
    if texts.get("line1") or texts.get("city") or texts.get("country"):
        try:
            address = Address(line1=texts.get("line1", ""), line2=texts.get("line2", ""),
                              postal_code=texts.get("postal_code", ""),
                              city=texts.get("city", ""), region=texts.get("region", ""),
                              country=texts.get("country", ""))
        except ValueError:
            problems.append(f"{path}.country: must be an ISO 3166-1 alpha-2 code like 'IT'")
    return Party(name=texts.get("name", ""), address=address,
                 vat_number=texts.get("vat_number", ""), tax_code=texts.get("tax_code", ""),
                 email=texts.get("email", ""), phone=texts.get("phone", ""))


def parse_invoice_settings(settings: Mapping[str, Any],
                           problems: list[str]) -> InvoiceSettings:
    """Read ``settings["invoices"]``, appending a message per problem to ``problems``."""
    section = settings.get("invoices", {})
    if not isinstance(section, Mapping):
        problems.append("invoices: must be a mapping")
        return InvoiceSettings()
    problems.extend(f"invoices.{k}: unknown setting" for k in sorted(set(section) - _KNOWN))
    changes: dict[str, Any] = {}
    if "seller" in section:
        changes["seller"] = _party(section["seller"], "invoices.seller", problems)
    zone = section.get("timezone", "UTC")
    try:
        if not isinstance(zone, str):
            raise ValueError(zone)
        zoneinfo.ZoneInfo(zone)
        changes["timezone"] = zone
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        problems.append(f"invoices.timezone: {zone!r} is not an IANA time zone such as "
                        "'Europe/Rome'")
    fmt = section.get("number_format", DEFAULT_NUMBER_FORMAT)
    if _check_format(fmt, problems):
        changes["number_format"] = fmt
    if "series" in section:
        found = _series(section["series"], "invoices.series", problems)
        if found is not None:
            changes["series"] = found
    per_channel = section.get("channel_series", {})
    if not isinstance(per_channel, Mapping):
        problems.append("invoices.channel_series: must map channel codes to series tables")
    else:
        chosen: dict[str, Series] = {}
        for channel, value in per_channel.items():
            found = _series(value, f"invoices.channel_series.{channel}", problems)
            if found is not None:
                chosen[str(channel)] = found
        changes["channel_series"] = chosen
    if "tax_rate" in section:
        rate = _rate(section["tax_rate"], "invoices.tax_rate", problems)
        if rate is not None:
            changes["tax_rate"] = rate
    classes = section.get("tax_classes", {})
    rates: dict[str, Decimal] = {}
    if not isinstance(classes, Mapping):
        problems.append("invoices.tax_classes: must map tax classes to rates")
    else:
        for name, value in classes.items():
            rate = _rate(value, f"invoices.tax_classes.{name}", problems)
            if rate is not None:
                rates[str(name)] = rate
        changes["tax_classes"] = rates
    skus = section.get("sku_tax_classes", {})
    if not isinstance(skus, Mapping):
        problems.append("invoices.sku_tax_classes: must map SKU patterns to tax classes")
    else:
        for pattern, name in skus.items():
            if name not in rates:
                problems.append(f"invoices.sku_tax_classes.{pattern}: {name!r} is not one of "
                                f"invoices.tax_classes ({', '.join(sorted(rates)) or 'none'})")
        changes["sku_tax_classes"] = tuple((str(p), str(n)) for p, n in skus.items())
    accounts = section.get("accounts", {})
    if not isinstance(accounts, Mapping):
        problems.append("invoices.accounts: must be a table")
    else:
        known = {"sales", "receivables", "payments", "by_provider"}
        problems.extend(f"invoices.accounts.{k}: unknown setting"
                        for k in sorted(set(accounts) - known))
        flat = {k: v for k, v in accounts.items() if k in known - {"by_provider"}}
        by_provider = accounts.get("by_provider", {})
        if not all(isinstance(v, str) and v for v in flat.values()) or not isinstance(
                by_provider, Mapping) or not all(isinstance(v, str) and v
                                                 for v in by_provider.values()):
            problems.append("invoices.accounts: account codes must be text")
        else:
            changes["accounts"] = Accounts(**flat, by_provider=dict(by_provider))
    return InvoiceSettings(**changes)


def _check_format(fmt: object, problems: list[str]) -> bool:
    """A number format must name ``{number}``, ``{series}`` and ``{year}`` (so numbers are
    unique across series and years) and nothing else."""
    if not isinstance(fmt, str):
        problems.append(f"invoices.number_format: must be text, got {fmt!r}")
        return False
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(fmt) if f is not None}
        format_number(fmt, series="INV", year=2026, number=1)
    except (ValueError, KeyError, IndexError):
        fields = None
    if fields != {"number", "series", "year"}:
        problems.append(f"invoices.number_format: {fmt!r} must use {{year}}, {{series}} and "
                        "{number} and no other field (such as '{year}/{series}/{number:06d}')")
        return False
    return True


def invoice_settings(settings: Mapping[str, Any]) -> InvoiceSettings:
    """The invoice settings (already validated at bootstrap)."""
    return parse_invoice_settings(settings, [])


# -- events written to the outbox ---------------------------------------------------------------


@attrs.frozen(kw_only=True)
class InvoiceIssued(OrderEvent):
    """An invoice was issued for a shipment."""

    event_type: ClassVar[str] = "invoice.issued"
    invoice_id: str
    number: str
    shipment_id: str
    currency: str
    net: Decimal
    vat: Decimal
    gross: Decimal


@attrs.frozen(kw_only=True)
class CreditNoteIssued(OrderEvent):
    """A credit note was issued for a refund."""

    event_type: ClassVar[str] = "credit_note.issued"
    credit_note_id: str
    number: str
    #: The numbers of the invoices it credits.
    credits: tuple[str, ...]
    currency: str
    net: Decimal
    vat: Decimal
    gross: Decimal


@attrs.frozen(kw_only=True)
class JournalPosted(OrderEvent):
    """A posting was written to the journal (signed amounts, as exported)."""

    event_type: ClassVar[str] = "journal.posted"
    posting_id: int
    kind: str
    document_number: str
    account: str
    counter_account: str
    vat_rate: Decimal | None
    net: Decimal
    vat: Decimal
    gross: Decimal
    currency: str
    posted_on: date


#: The invoice and journal events the core registers.
INVOICE_EVENTS: tuple[type[OrderEvent], ...] = (InvoiceIssued, CreditNoteIssued, JournalPosted)
