"""``omskit inventory``: stock across the network."""

from __future__ import annotations

from datetime import datetime

import click
from rich.table import Table

from omskit.cli.context import CliState, echo_json, pass_state


@click.group()
def inventory() -> None:
    """Inspect stock."""


@inventory.command("show")
@click.argument("sku")
@click.option("--at", "at", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S%z"]),
              default=None, help="Also show available-to-promise at this date (UTC).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_state
def show(state: CliState, sku: str, at: datetime | None, as_json: bool) -> None:
    """Stock of SKU at every location: on hand, reserved, safety, available, in transit."""
    from datetime import UTC

    when = at.replace(tzinfo=at.tzinfo or UTC) if at else None
    stock = state.oms().inventory.stock(sku)
    if as_json:
        echo_json({
            "sku": sku, "on_hand": stock.on_hand, "reserved": stock.reserved,
            "available": stock.available, "in_transit": stock.in_transit,
            **({"available_at": stock.available_by(when)} if when else {}),
            "locations": [
                {"location": p.location, "kind": p.location_kind.value, "on_hand": p.on_hand,
                 "reserved": p.reserved, "safety_stock": p.safety_stock,
                 "available": p.available, "in_transit": p.in_transit,
                 "incoming": [{"eta": s.eta.isoformat(), "quantity": s.quantity}
                              for s in p.incoming]}
                for p in stock.positions
            ],
        })
        return
    if not stock.positions:
        raise click.ClickException(f"no location has ever stocked {sku!r}")
    table = Table("location", "kind", "on hand", "reserved", "safety", "available",
                  "in transit", "next ETA", title=f"{sku}")
    for p in stock.positions:
        eta = p.incoming[0].eta.strftime("%Y-%m-%d") if p.incoming else ""
        table.add_row(p.location, p.location_kind.value, str(p.on_hand), str(p.reserved),
                      str(p.safety_stock), str(p.available), str(p.in_transit), eta)
    table.add_section()
    table.add_row("total", "", str(stock.on_hand), str(stock.reserved), "",
                  str(stock.available), str(stock.in_transit), "")
    state.console.print(table)
    if when is not None:
        state.console.print(f"available to promise by {when:%Y-%m-%d}: "
                            f"{stock.available_by(when)}")


@inventory.command("expire-carts")
@pass_state
def expire_carts(state: CliState) -> None:
    """Release cart holds whose time-to-live has passed (run it every minute or so)."""
    expired = state.oms().carts.expire()
    state.console.print(f"{expired} soft reservations expired")
