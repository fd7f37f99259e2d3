"""The label: an A6 PDF with sender, recipient, weight, service and the tracking number as a
Code 128 barcode (``reportlab.graphics.barcode.code128``), rendered locally."""

from __future__ import annotations

import io

from omskit import Address, LabelRequest
from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.pagesizes import A6
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas


def _lines(title: str, name: str, address: Address) -> list[str]:
    place = " ".join(x for x in (address.postal_code or "", address.city) if x)
    return [title, *(x for x in (address.name or name, address.line1, address.line2 or "",
                                 f"{place} ({address.country})") if x)]


def render(request: LabelRequest, tracking_number: str, service: str) -> bytes:
    """The label of ``request`` as PDF bytes. The tracking number is printed under its
    barcode, so the PDF's text carries it too. ``invariant`` makes the bytes depend on the
    content alone (no creation date), so the same purchase renders the same document."""
    buffer = io.BytesIO()
    width, height = A6
    pdf = Canvas(buffer, pagesize=A6, invariant=True)
    pdf.setTitle(f"Label {tracking_number}")
    pdf.setAuthor("omskit-carrier-tablerate")
    origin = request.origin
    sender = origin.address or Address(line1=origin.name, city=origin.code, country="")
    y = height - 12 * mm
    pdf.setFont("Helvetica", 7)
    for line in _lines("FROM", origin.name, sender):
        pdf.drawString(8 * mm, y, line)
        y -= 3.5 * mm
    y -= 2 * mm
    pdf.setFont("Helvetica-Bold", 10)
    for line in _lines("TO", "", request.destination):
        pdf.drawString(8 * mm, y, line)
        y -= 5 * mm
    pdf.setFont("Helvetica", 8)
    kind = "RETURN " if request.is_return else ""
    pdf.drawString(8 * mm, y - 2 * mm,
                   f"{kind}{service.upper()}  {request.parcel.weight_grams / 1000:.3f} kg  "
                   f"order {request.order_id}")
    barcode = Code128(tracking_number, barHeight=18 * mm, barWidth=0.35 * mm)
    barcode.drawOn(pdf, (width - barcode.width) / 2, 16 * mm)
    pdf.setFont("Helvetica-Bold", 11)
    pdf.drawCentredString(width / 2, 10 * mm, tracking_number)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


__all__ = ["render"]
