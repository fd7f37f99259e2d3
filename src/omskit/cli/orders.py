"""``omskit orders``: find orders, read one in full, edit them, cancel lines and close
short."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from omskit.app import Oms
from omskit.cli.context import CliState, echo_json, pass_state
from omskit.domain.edits import EditSummary, OrderEdit
from omskit.domain.errors import OrderNotFound
from omskit.domain.lifecycle import OrderStatus
from omskit.domain.order import Order
from omskit.store.orders import OrderQuery

_DATE = click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"])


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@click.group()
def orders() -> None:
    """Find and read orders; edit them, cancel lines and close orders short."""


def resolve(oms: Oms, reference: str) -> str:
    """The id of the order ``reference`` names: its omskit id, its channel's own id
    (``W-1``), or both as ``CHANNEL/EXTERNAL_ID`` (``web/W-1``) when several channels use
    that external id.
    """
    try:
        return oms.orders.get(reference).id
    except OrderNotFound:
        pass
    channel, slash, external = reference.partition("/")
    if slash and channel and external:
        found = oms.orders.find_by_external(channel, external)
        if found is not None:
            return found.id
    matches = oms.orders.search(OrderQuery(external_id=reference, limit=20))
    if len(matches) == 1:
        return matches[0].id
    if matches:
        choices = ", ".join(f"{m.channel}/{m.external_id}" for m in matches)
        raise click.ClickException(
            f"{reference!r} is the external id of orders from several channels; name one as "
            f"CHANNEL/EXTERNAL_ID: {choices}")
    raise click.ClickException(
        f"no order has the id or external id {reference!r} (see `omskit orders list`)")


@orders.command("list")
@click.option("--status", "statuses", multiple=True,
              type=click.Choice([s.value for s in OrderStatus]), help="Repeatable.")
@click.option("--channel", default=None)
@click.option("--external-id", default=None, help="The channel's own id of the order.")
@click.option("--customer", "customer_id", default=None, help="Customer id.")
@click.option("--since", type=_DATE, default=None, help="Placed at or after (UTC).")
@click.option("--until", type=_DATE, default=None, help="Placed before (UTC).")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_state
def list_orders(state: CliState, statuses: tuple[str, ...], channel: str | None,
                external_id: str | None, customer_id: str | None, since: datetime | None,
                until: datetime | None, limit: int, as_json: bool) -> None:
    """Orders matching every filter given, newest first."""
    oms = state.oms()
    found = oms.orders.search(OrderQuery(
        customer_id=customer_id, channel=channel, external_id=external_id,
        statuses=tuple(OrderStatus(s) for s in statuses),
        placed_from=_utc(since), placed_to=_utc(until), limit=limit))
    if as_json:
        echo_json([oms.converter.unstructure(s) for s in found])
        return
    table = Table(title=f"{len(found)} orders")
    # Ids are never cut short: `orders show` must find what `orders list` prints.
    table.add_column("id", no_wrap=True, overflow="fold",
                     min_width=max((len(s.id) for s in found), default=2))
    for heading in ("channel", "external id", "status", "customer", "total", "placed at"):
        table.add_column(heading)
    for s in found:
        table.add_row(s.id, s.channel, s.external_id, s.status.value, s.customer_id,
                      f"{s.total} {s.currency}", f"{s.placed_at:%Y-%m-%d %H:%M}")
    state.console.print(table)


@orders.command("show")
@click.argument("order_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@pass_state
def show(state: CliState, order_id: str, as_json: bool) -> None:
    """One order: lines, holds, fulfilment orders and its timeline. ORDER_ID may also be
    the channel's own id (W-1, or web/W-1)."""
    oms = state.oms()
    order_id = resolve(oms, order_id)
    order = oms.orders.get(order_id)
    timeline = oms.orders.timeline(order_id)
    if as_json:
        c = oms.converter
        echo_json({
            "id": order.id, "channel": order.channel, "external_id": order.external_id,
            "status": order.status.value, "currency": order.currency,
            "total": str(order.total.amount), "customer": c.unstructure(order.customer),
            "delivery": c.unstructure(order.delivery),
            "shipping_address": c.unstructure(order.shipping_address),
            "placed_at": order.placed_at.isoformat(), "version": order.version,
            "lines": [c.unstructure(x) for x in order.lines],
            "holds": [c.unstructure(h) for h in order.holds],
            "backordered": [c.unstructure(b) for b in order.backordered()],
            "fulfillment_orders": [c.unstructure(fo) for fo in order.fulfillment_orders],
            "timeline": [{"occurred_at": e.occurred_at.isoformat(),
                          "event_type": e.event_type} for e in timeline],
        })
        return
    console = state.console
    console.print(f"[bold]Order {order.id}[/bold]  {order.channel}/{order.external_id}  "
                  f"[bold]{order.status.value}[/bold]  {order.total}")
    console.print(f"customer {order.customer.id} ({order.customer.segment}), "
                  f"{order.delivery.kind.value}"
                  + (f" at {order.delivery.pickup_location}"
                     if order.delivery.pickup_location else ""))
    lines = Table("line", "sku", "quantity", "cancelled", "unit price", title="lines")
    for x in order.lines:
        lines.add_row(x.line_id, x.sku, str(x.quantity), str(x.cancelled_quantity),
                      str(x.unit_price))
    console.print(lines)
    if order.holds:
        holds = Table("code", "reason", "placed", "released", title="holds")
        for h in order.holds:
            holds.add_row(h.code, h.reason, f"{h.placed_at:%Y-%m-%d %H:%M}",
                          f"{h.released_at:%Y-%m-%d %H:%M}" if h.released_at else "")
        console.print(holds)
    fos = Table("fulfilment order", "location", "status", "lines", "tracking",
                title="fulfilment orders")
    for fo in order.fulfillment_orders:
        fos.add_row(fo.id, fo.location, fo.status.value,
                    ", ".join(f"{x.sku}×{x.quantity}" for x in fo.lines),
                    fo.shipment.tracking_number if fo.shipment else "")
    console.print(fos)
    waiting = order.backordered()
    if waiting and not order.active_holds:
        console.print("backordered: " + ", ".join(f"{b.sku}×{b.quantity}" for b in waiting))
    events = Table("when", "event", title="timeline")
    for e in timeline:
        events.add_row(f"{e.occurred_at:%Y-%m-%d %H:%M:%S}", e.event_type)
    console.print(events)


@orders.command("explain")
@click.argument("order_id")
@click.option("--json", "as_json", is_flag=True, help="Print the stored decisions as JSON.")
@pass_state
def explain(state: CliState, order_id: str, as_json: bool) -> None:
    """Why the order was routed as it was: every routing decision, its candidates, plan
    and cost breakdown."""
    oms = state.oms()
    order_id = resolve(oms, order_id)
    decisions = oms.orders.explain(order_id)
    if as_json:
        echo_json([oms.converter.unstructure(d) for d in decisions])
        return
    console = state.console
    if not decisions:
        console.print(f"order {order_id} has no routing decision (held, or not routed yet)")
        return
    for d in decisions:
        console.print(
            f"[bold]{d.decided_at:%Y-%m-%d %H:%M:%S}[/bold]  strategy [bold]{d.strategy}"
            f"[/bold] ({d.solver}, {d.elapsed_ms:.2f} ms, round {d.round})  segment "
            f"{d.segment}, channel {d.channel}, {d.candidates_total} candidates")
        console.print("demand: " + ", ".join(f"{x.sku}×{x.quantity}" for x in d.demand))
        plan = Table("location", "line", "sku", "quantity", title="plan")
        for a in d.allocations:
            plan.add_row(a.location, a.line_id, a.sku, str(a.quantity))
        for b in d.backordered:
            plan.add_row("[red]backordered[/red]", b.line_id, b.sku, str(b.quantity))
        console.print(plan)
        cost = Table("term", "amount", title=f"cost {d.cost.total:.2f} "
                     f"({d.cost.shipments} shipments)")
        for term, amount in sorted(d.cost.by_term.items()):
            cost.add_row(term, f"{amount:.2f}")
        console.print(cost)
        rows = Table("location", "status", "km", "available", "fixed", "standalone",
                     "reasons", title="candidates")
        for c in d.candidates:
            rows.add_row(
                c.location, c.status,
                "" if c.distance_km is None else f"{c.distance_km:.0f}",
                ", ".join(f"{k}:{v}" for k, v in c.available.items()),
                "" if c.fixed_cost is None else f"{c.fixed_cost:.2f}",
                "" if c.standalone_cost is None else f"{c.standalone_cost:.2f}",
                "; ".join(c.reasons))
        console.print(rows)
        if d.excluded_counts:
            console.print("excluded by rule: " + ", ".join(
                f"{rule} {n}" for rule, n in sorted(d.excluded_counts.items())))
        for h in d.holdbacks:
            console.print(f"held back by {h.rule}: {h.reason}")
        for note in d.notes:
            console.print(f"note: {note}")


def _line_quantity(value: str) -> tuple[str, int]:
    line_id, sep, units = value.rpartition("=")
    if not sep or not line_id or not units.isdigit():
        raise click.BadParameter(f"{value!r} is not LINE_ID=UNITS, such as 1=2")
    return line_id, int(units)


def _print_closure(state: CliState, order: Order, as_json: bool) -> None:
    """The order's status and what each line has cancelled (after cancel-lines or
    short-close)."""
    if as_json:
        echo_json({
            "id": order.id, "status": order.status.value,
            "lines": [{"line_id": x.line_id, "sku": x.sku, "quantity": x.quantity,
                       "cancelled_quantity": x.cancelled_quantity} for x in order.lines],
            "backordered": [state.oms().converter.unstructure(b)
                            for b in order.backordered()],
            "holds": [h.code for h in order.active_holds],
        })
        return
    lines = Table("line", "sku", "ordered", "cancelled",
                  title=f"order {order.id}: {order.status.value}")
    for x in order.lines:
        lines.add_row(x.line_id, x.sku, str(x.quantity), str(x.cancelled_quantity))
    state.console.print(lines)


@orders.command("cancel-lines")
@click.argument("order_id")
@click.argument("quantities", nargs=-1, required=True, metavar="LINE_ID=UNITS...")
@click.option("--reason", default="", help="Why (kept in the order's timeline).")
@click.option("--idempotency-key", default=None,
              help="Run it again with the same key: nothing more is cancelled.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_state
def cancel_lines(state: CliState, order_id: str, quantities: tuple[str, ...], reason: str,
                 idempotency_key: str | None, as_json: bool) -> None:
    """Cancel units of the order's lines: backordered ones first, then units not yet
    picked; what they held is given back."""
    wanted: dict[str, int] = {}
    for value in quantities:
        line_id, units = _line_quantity(value)
        wanted[line_id] = wanted.get(line_id, 0) + units
    oms = state.oms()
    order = oms.orders.cancel_lines(resolve(oms, order_id), wanted, reason=reason,
                                            idempotency_key=idempotency_key)
    _print_closure(state, order, as_json)


@orders.command("short-close")
@click.argument("order_id")
@click.option("--reason", default="", help="Why (kept in the order's timeline).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_state
def short_close(state: CliState, order_id: str, reason: str, as_json: bool) -> None:
    """Close the order short: cancel every unit not yet shipped, picked or packed, so it
    completes with what has shipped."""
    oms = state.oms()
    order = oms.orders.short_close(resolve(oms, order_id), reason=reason)
    _print_closure(state, order, as_json)


def _added_line(value: str) -> dict[str, Any]:
    sku, sep, rest = value.partition(":")
    units, sep2, price = rest.partition(":")
    if not (sep and sep2 and sku and units.isdigit() and price):
        raise click.BadParameter(f"{value!r} is not SKU:UNITS:UNIT_PRICE, such as MUG:2:12.50")
    return {"sku": sku, "quantity": int(units), "unit_price": price}


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        found = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"{what} is not JSON: {exc}") from None
    if not isinstance(found, dict):
        raise click.BadParameter(f"{what} must be a JSON object")
    return found


@orders.command("edit")
@click.argument("order_id")
@click.argument("quantities", nargs=-1, metavar="[LINE_ID=UNITS]...")
@click.option("--add", "added", multiple=True, metavar="SKU:UNITS:PRICE",
              help="Add a line (repeatable).")
@click.option("--remove", "removed", multiple=True, metavar="LINE_ID",
              help="Remove a line (repeatable).")
@click.option("--address", default=None, metavar="JSON",
              help='New shipping address: {"line1": ..., "city": ..., "country": ...}.')
@click.option("--pickup", default=None, metavar="LOCATION", help="Pick up at LOCATION.")
@click.option("--ship", is_flag=True, help="Ship to the address (instead of picking up).")
@click.option("--file", "changes_file", type=click.Path(exists=True, dir_okay=False,
                                                        path_type=Path),
              help="Changes as JSON: quantities, add_lines, remove_lines, shipping_address, "
                   "delivery.")
@click.option("--edit", "edit_id", default=None,
              help="Continue this open edit instead of beginning one.")
@click.option("--channel", default="cli", show_default=True,
              help="The channel the edit comes from.")
@click.option("--actor", default="", help="Who asks for it (kept in the timeline).")
@click.option("--preview", is_flag=True, help="Show what committing would do; keep it open.")
@click.option("--commit", "commit_it", is_flag=True, help="Commit the edit.")
@click.option("--abandon", is_flag=True, help="Abandon the edit.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@pass_state
def edit(state: CliState, order_id: str, quantities: tuple[str, ...], added: tuple[str, ...],
         removed: tuple[str, ...], address: str | None, pickup: str | None, ship: bool,
         changes_file: Path | None, edit_id: str | None, channel: str, actor: str,
         preview: bool, commit_it: bool, abandon: bool, as_json: bool) -> None:
    """Edit an order: stage changes (quantities, lines added or removed, a new address, ship
    or pick up) on a new edit or an open one (--edit), then preview, commit or abandon it.
    Only what is not yet released for picking can change. ORDER_ID may also be the channel's
    own id (W-1, or web/W-1)."""
    if sum((preview, commit_it, abandon)) > 1:
        raise click.UsageError("give at most one of --preview, --commit and --abandon")
    if pickup is not None and ship:
        raise click.UsageError("give --pickup LOCATION or --ship, not both")
    changes: dict[str, Any] = {}
    if changes_file is not None:
        changes = _json_object(changes_file.read_text(encoding="utf-8"), str(changes_file))
    wanted = dict(changes.pop("quantities", {}) or {})
    for value in quantities:
        line_id, units = _line_quantity(value)
        wanted[line_id] = units
    if wanted:
        changes["quantities"] = wanted
    if added:
        changes["add_lines"] = [*changes.get("add_lines", []), *map(_added_line, added)]
    if removed:
        changes["remove_lines"] = [*changes.get("remove_lines", []), *removed]
    if address is not None:
        changes["shipping_address"] = _json_object(address, "--address")
    if pickup is not None:
        changes["delivery"] = {"kind": "pickup", "pickup_location": pickup}
    elif ship:
        changes["delivery"] = {"kind": "ship"}
    oms = state.oms()
    order_id = resolve(oms, order_id)
    if edit_id is None:
        if abandon:
            raise click.UsageError("--abandon needs --edit EDIT_ID")
        current = oms.edits.begin(order_id, channel=channel, actor=actor)
    else:
        current = oms.edits.get(edit_id)
        if current.order_id != order_id:
            raise click.UsageError(f"edit {edit_id} is not an edit of order {order_id}")
    if changes:
        current = oms.execute(oms.command("stage_order_edit",
                                          {"edit_id": current.id, **changes}))
    if abandon:
        current = oms.edits.abandon(current.id)
        _print_edit(state, current, None, as_json)
    elif commit_it:
        current = oms.edits.commit(current.id)
        _print_edit(state, current, current.summary, as_json)
    else:
        _print_edit(state, current, oms.edits.preview(current.id) if preview else None,
                    as_json)


def _print_edit(state: CliState, edit: OrderEdit, summary: EditSummary | None,
                as_json: bool) -> None:
    """The edit (id, status, staged changes) and, for a preview or a commit, what it
    does."""
    c = state.oms().converter
    if as_json:
        echo_json({"edit_id": edit.id, "order_id": edit.order_id, "status": edit.status.value,
                   "channel": edit.channel, "actor": edit.actor,
                   "base_version": edit.base_version, "changes": c.unstructure(edit.changes),
                   "summary": None if summary is None else c.unstructure(summary)})
        return
    console = state.console
    console.print(f"[bold]edit {edit.id}[/bold] of order {edit.order_id}: "
                  f"[bold]{edit.status.value}[/bold] (from {edit.channel}"
                  + (f", by {edit.actor}" if edit.actor else "")
                  + f", on version {edit.base_version})", highlight=False)
    if summary is None:
        staged = edit.changes
        for line_id, units in staged.quantities.items():
            console.print(f"  line {line_id} → {units}", highlight=False)
        for new in staged.add_lines:
            console.print(f"  add line {new.line_id}: {new.sku} × {new.quantity} at "
                          f"{new.unit_price}", highlight=False)
        if staged.shipping_address is not None:
            to = staged.shipping_address
            console.print(f"  ship to {to.line1}, {to.city}, {to.country}", highlight=False)
        if staged.delivery is not None:
            console.print(f"  delivery {staged.delivery.kind.value}"
                          + (f" at {staged.delivery.pickup_location}"
                             if staged.delivery.pickup_location else ""), highlight=False)
        if edit.status.value == "open":
            console.print(f"preview: omskit orders edit {edit.order_id} --edit {edit.id} "
                          "--preview", highlight=False)
        return
    lines = Table("line", "sku", "before", "after", "unit price", title="lines")
    for x in summary.lines:
        lines.add_row(x.line_id, x.sku, str(x.before), str(x.after), str(x.unit_price))
    console.print(lines)
    routed = Table("location", "line", "sku", "quantity", title="routing of what changed")
    for a in summary.allocations:
        routed.add_row(a.location, a.line_id, a.sku, str(a.quantity))
    for b in summary.backordered:
        routed.add_row("[red]backordered[/red]", b.line_id, b.sku, str(b.quantity))
    for r in summary.released:
        routed.add_row(f"given back by {r.location or 'the backorder'}", r.line_id, r.sku,
                       str(-r.quantity))
    console.print(routed)
    console.print(f"total {summary.total_before} → {summary.total_after} {summary.currency} "
                  f"(difference {summary.payment_difference:+})", highlight=False)
    for step in summary.payment:
        console.print(f"payment: {step.kind.value} {step.amount} on {step.transaction_id}",
                      highlight=False)
    console.print(f"promised date {summary.promised_date_before} → "
                  f"{summary.promised_date_after}", highlight=False)
    if summary.address_changed or summary.delivery_changed:
        console.print(f"delivery {summary.delivery_after.kind.value}"
                      + (f" at {summary.delivery_after.pickup_location}"
                         if summary.delivery_after.pickup_location else ""), highlight=False)
    if edit.status.value == "open":
        console.print(f"commit: omskit orders edit {edit.order_id} --edit {edit.id} --commit",
                      highlight=False)
