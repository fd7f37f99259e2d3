"""``omskit suppliers``: process what suppliers sent back, and list purchase orders
(dropship, ``oms.dropship``)."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from omskit.cli.context import CliState, echo_json, pass_state
from omskit.domain.dropship import PurchaseOrder, PurchaseOrderStatus


def _as_dict(po: PurchaseOrder) -> dict[str, Any]:
    return {
        "id": po.id, "supplier": po.supplier, "order_id": po.order_id,
        "fulfillment_order_id": po.fulfillment_order_id, "status": po.status.value,
        "units": po.units, "idempotency_key": po.idempotency_key,
        "supplier_reference": po.supplier_reference, "error": po.error,
        "created_at": po.created_at.isoformat(),
        "sent_at": po.sent_at.isoformat() if po.sent_at else None,
        "lines": [{"line_id": x.line_id, "sku": x.sku, "quantity": x.quantity}
                  for x in po.lines],
        "shipped": [{"line_id": x.line_id, "sku": x.sku, "quantity": x.quantity}
                    for x in po.shipped],
    }


@click.group()
def suppliers() -> None:
    """Dropship suppliers: process what they sent back, list purchase orders."""


@suppliers.command("poll")
@click.option("--supplier", default=None, help="Only this supplier (its location code).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_state
def poll(state: CliState, supplier: str | None, as_json: bool) -> None:
    """Send the purchase orders waiting to be sent, then process each supplier's
    acknowledgements, refusals, ship notices and stock feeds, each once."""
    results = state.oms().dropship.poll(supplier)
    if as_json:
        echo_json([{"supplier": r.supplier, "sent": r.sent, "processed": r.processed,
                    "duplicates": r.duplicates, "refused": list(r.refused)} for r in results])
        return
    if not results:
        state.console.print("no supplier connectors installed")
        return
    table = Table("supplier", "sent", "processed", "seen before", "refused",
                  title="supplier poll")
    for r in results:
        table.add_row(r.supplier, str(r.sent), str(r.processed), str(r.duplicates),
                      str(len(r.refused)))
    state.console.print(table)
    for r in results:
        for refused in r.refused:
            state.console.print(f"refused ({r.supplier}) {refused}", markup=False)


@suppliers.command("purchase-orders")
@click.option("--supplier", default=None, help="Only this supplier (its location code).")
@click.option("--status", "statuses", multiple=True,
              type=click.Choice([s.value for s in PurchaseOrderStatus]),
              help="Only purchase orders in this status (repeatable).")
@click.option("--limit", type=click.IntRange(1, 10_000), default=200, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_state
def purchase_orders(state: CliState, supplier: str | None, statuses: tuple[str, ...],
                    limit: int, as_json: bool) -> None:
    """Purchase orders, oldest first: supplier, status, units, shipped units, error."""
    found = state.oms().dropship.purchase_orders(supplier, statuses or None, limit=limit)
    if as_json:
        echo_json([_as_dict(po) for po in found])
        return
    table = Table(title=f"{len(found)} purchase orders")
    table.add_column("purchase order", overflow="fold", min_width=12)
    for heading in ("supplier", "status", "units", "shipped"):
        table.add_column(heading, no_wrap=True)
    table.add_column("error", overflow="fold")
    for po in found:
        table.add_row(po.id, po.supplier, po.status.value, str(po.units),
                      str(sum(x.quantity for x in po.shipped)), po.error)
    state.console.print(table)
