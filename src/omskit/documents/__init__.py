"""Documents rendered from jinja2 templates to HTML, and from HTML to PDF: a pick list per
location for a wave of fulfilment orders, a packing slip per shipment, and invoices and
credit notes.

The templates ship in ``omskit/documents/templates``; the environment autoescapes HTML, so
a customer's name or a SKU can never inject markup. :func:`html_to_pdf` turns any of them
into a PDF with WeasyPrint (the ``pdf`` extra), imported only when a PDF is asked for.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

import attrs
import jinja2

from omskit.domain.errors import PdfUnavailable
from omskit.domain.inventory import Location
from omskit.domain.invoices import DocumentKind, Invoice
from omskit.domain.order import FulfillmentOrder, Order
from omskit.domain.shipping import Shipment
from omskit.domain.values import LineQuantity


@attrs.frozen(kw_only=True)
class PickPart:
    """Units of one SKU for one fulfilment order."""

    external_id: str
    fulfillment_order_id: str
    quantity: int


@attrs.frozen(kw_only=True)
class PickRow:
    """One SKU to pick: the total and who it is for."""

    sku: str
    quantity: int
    parts: tuple[PickPart, ...]


@attrs.frozen(kw_only=True)
class PickListEntry:
    """A fulfilment order of the wave."""

    id: str
    external_id: str
    units: int


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("omskit.documents", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


_ENV = _environment()


def pick_rows(wave: Sequence[tuple[Order, FulfillmentOrder]]) -> list[PickRow]:
    """Units per SKU over the wave's fulfilment orders, SKUs in order."""
    parts: dict[str, list[PickPart]] = defaultdict(list)
    for order, fo in wave:
        for x in fo.lines:
            parts[x.sku].append(PickPart(external_id=order.external_id,
                                         fulfillment_order_id=fo.id, quantity=x.quantity))
    return [PickRow(sku=sku, quantity=sum(p.quantity for p in found), parts=tuple(found))
            for sku, found in sorted(parts.items())]


def render_pick_list(location: Location, wave: Sequence[tuple[Order, FulfillmentOrder]],
                     generated_at: datetime) -> str:
    """The pick list of ``wave`` at ``location``, as an HTML page."""
    rows = pick_rows(wave)
    return _ENV.get_template("pick_list.html.j2").render(
        location=location, generated_at=generated_at, rows=rows,
        total_units=sum(r.quantity for r in rows),
        wave=[PickListEntry(id=fo.id, external_id=order.external_id, units=fo.units)
              for order, fo in wave])


@attrs.frozen(kw_only=True)
class SlipRow:
    """One line of a packing slip: which parcel holds how many of a line."""

    parcel: str
    line_id: str
    sku: str
    quantity: int


def render_packing_slip(order: Order, fo: FulfillmentOrder, shipment: Shipment) -> str:
    """The packing slip of ``shipment``, as an HTML page: its parcels' contents (or its
    lines, when the parcels do not list theirs) and what follows in another shipment."""
    rows: list[SlipRow] = []
    for i, parcel in enumerate(shipment.parcels, start=1):
        for x in parcel.contents:
            rows.append(SlipRow(parcel=f"{i} of {len(shipment.parcels)}", line_id=x.line_id,
                                sku=x.sku, quantity=x.quantity))
    if not rows:
        rows = [SlipRow(parcel=f"1–{len(shipment.parcels)}", line_id=x.line_id, sku=x.sku,
                        quantity=x.quantity) for x in shipment.lines]
    left = fo.unshipped()
    sku = {x.line_id: x.sku for x in fo.lines}
    to_follow = [LineQuantity(line_id=k, sku=sku[k], quantity=v) for k, v in left.items()]
    return _ENV.get_template("packing_slip.html.j2").render(
        order=order, shipment=shipment, rows=rows, to_follow=to_follow)


def _money(value: object) -> str:
    """``1234.5`` as ``1,234.50``: grouped thousands, the decimals as stored."""
    return f"{value:,}"


def _rate(value: object) -> str:
    return f"{value} %"


_ENV.filters["money"] = _money
_ENV.filters["rate"] = _rate


def render_invoice(invoice: Invoice) -> str:
    """An invoice or credit note as an HTML page: seller and buyer, the order and channel,
    the lines with their VAT, the totals per VAT rate and the document's totals."""
    title = "Invoice" if invoice.kind is DocumentKind.INVOICE else "Credit note"
    return _ENV.get_template("invoice.html.j2").render(invoice=invoice, title=title)


def html_to_pdf(html: str) -> bytes:
    """A PDF of ``html`` (a page rendered here), through WeasyPrint.

    Raises :class:`PdfUnavailable` when WeasyPrint or the Pango library it needs is not
    installed (``pip install 'omskit[pdf]'``)."""
    try:
        import weasyprint
    except (ImportError, OSError) as exc:  # OSError: WeasyPrint found no Pango
        raise PdfUnavailable(f"PDF rendering needs WeasyPrint and Pango: pip install "
                             f"'omskit[pdf]' ({type(exc).__name__}: {exc})") from exc
    pdf = weasyprint.HTML(string=html).write_pdf()
    assert isinstance(pdf, bytes)
    return pdf


__all__ = ["PickListEntry", "PickPart", "PickRow", "SlipRow", "html_to_pdf", "pick_rows",
           "render_invoice", "render_packing_slip", "render_pick_list"]
