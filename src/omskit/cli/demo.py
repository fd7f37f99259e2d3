"""``omskit demo``: seed a network and run a day of orders, with a progress bar and summary."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from omskit.app import Oms, bootstrap
from omskit.builtin.carriers import ManualCarriers
from omskit.cli.context import CliState, echo_json, pass_state
from omskit.cli.opening import resolve_url, shown
from omskit.demo import (
    DEMO_CARRIERS,
    DEMO_SETTINGS,
    STRATEGY,
    DemoCarriers,
    DemoCourier,
    DemoMailbox,
    DemoPayments,
    DemoReturns,
    DemoSummary,
    SimulatedClock,
    demo_day,
    run_demo,
    run_invoiced_order,
    run_returned_order,
)
from omskit.domain.invoices import DocumentKind, Invoice
from omskit.domain.lifecycle import OrderStatus
from omskit.domain.returns import Return


@click.command()
@click.option("--orders", "order_count", type=click.IntRange(1, 1_000_000), default=400,
              show_default=True, help="Orders in the day.")
@click.option("--skus", type=click.IntRange(10, 100_000), default=300, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--reset", is_flag=True,
              help="Drop omskit's tables first (needed when --db already holds orders).")
@click.option("--mail-dir", default="omskit-demo-mail", show_default=True,
              help="Where the demo's mailbox writes the e-mails it sends (.eml files).")
@click.option("--smtp", default=None, metavar="HOST:PORT",
              help="Also send the e-mails to this SMTP server (a local sink such as "
              "`python -m aiosmtpd -n -l 127.0.0.1:8025`).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@pass_state
def demo(state: CliState, order_count: int, skus: int, seed: int, reset: bool,
         mail_dir: str, smtp: str | None, as_json: bool) -> None:
    """Seed an Italian network and run a day of omnichannel orders through their life.

    It writes to the database every other command reads (--db, else ./omskit.db), so
    `omskit orders list` shows its orders next. It places orders from web, mobile, call
    centre and stores; routes them with the optimal strategy over three carriers' rate
    cards; releases, ships and delivers them through the day; and prints orders by status,
    split and backorder rates, units per location, and commands to try on its orders.
    """
    url = resolve_url(state.database_url)
    sink = _smtp_address(smtp)
    clock = SimulatedClock(demo_day())
    oms = bootstrap(url, clock=clock, load_entrypoints=state.load_plugins,
                    schema=state.schema, table_prefix=state.table_prefix,
                    settings={**DEMO_SETTINGS, **state.settings}, routing_strategy=STRATEGY,
                    plugins=[DemoCarriers(), ManualCarriers(*DEMO_CARRIERS), DemoPayments(),
                             DemoReturns()])
    try:
        if reset:
            oms.drop_schema()
        oms.upgrade()
        if oms.orders.search(limit=1):
            raise click.ClickException(f"{shown(url)} already holds orders; use "
                                       "`omskit demo --reset` to start again (it deletes "
                                       "them)")
        console = state.console if not as_json else Console(stderr=True)
        with Progress("[progress.description]{task.description}", BarColumn(),
                      MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                      transient=as_json) as bar:
            task = bar.add_task("placing and fulfilling orders", total=order_count)
            summary = run_demo(oms, clock, orders=order_count, skus=skus, seed=seed,
                               progress=lambda done, _total: bar.update(task, completed=done))
        tries = _commands_to_try(oms, state.database_url)
        # The evening runs with the demo's mailbox: the customer of the paid order hears
        # about it (confirmed, shipped, delivered, refunded), the day's customers do not.
        mailbox = DemoMailbox(Path(mail_dir), sink)
        evening = bootstrap(oms.engine, clock=clock, load_entrypoints=state.load_plugins,
                            schema=state.schema, table_prefix=state.table_prefix,
                            settings={**DEMO_SETTINGS, **state.settings},
                            routing_strategy=STRATEGY,
                            plugins=[DemoCarriers(), ManualCarriers(*DEMO_CARRIERS),
                                     DemoPayments(), DemoReturns(), DemoCourier(), mailbox])
        try:
            invoice = run_invoiced_order(evening, clock)
            tries.append(_invoice_try(invoice, state.database_url))
            # The evening's sweep: what a worker would have raised by the end of the day.
            clock.now += timedelta(hours=2)
            swept = evening.sweeps.run()
            exceptions = Counter(x.kind.value for x in evening.monitor.exceptions())
            prefix = ("omskit" if state.database_url is None
                      else f"omskit --db {state.database_url}")
            tries.append(f"{prefix} exceptions   # late, stuck and held orders at the day's "
                         "end")
            rma = run_returned_order(evening, clock, invoice)
            tries.append(f"{prefix} orders show {invoice.order_id}   # a parcel with a "
                         f"{DemoCourier.code} label, tracked to its delivery")
            tries.append(_return_try(evening, rma, state.database_url))
        finally:
            evening.close()
    finally:
        oms.close()
    raised = len(swept.monitor.raised) if swept.monitor else 0
    mails = [{"to": m.recipient, "subject": m.subject, "kind": m.kind.value}
             for m in mailbox.sent]
    if as_json:
        echo_json({**_as_dict(summary), "exceptions": dict(sorted(exceptions.items())),
                   "exceptions_raised": raised, "emails": mails, "mail_dir": mail_dir})
    else:
        _print(state.console, summary, shown(url), tries, exceptions)
        _print_mails(state.console, mails, mail_dir)


def _as_dict(s: DemoSummary) -> dict[str, object]:
    return {
        "orders": s.orders, "skus": s.skus, "locations": s.locations,
        "by_status": s.by_status, "by_channel": s.by_channel,
        "split_rate": round(s.split_rate, 4), "backorder_rate": round(s.backorder_rate, 4),
        "held_orders": s.held_orders, "cancelled_orders": s.cancelled_orders,
        "rejected_fulfillment_orders": s.rejected_fulfillment_orders,
        "units_shipped_by_location": s.units_shipped_by_location,
        "units_reserved_by_location": s.units_reserved_by_location,
        "placement_seconds": round(s.placement_seconds, 3),
        "placements_per_second": round(s.placements_per_second, 1),
        "operations": s.operations, "total_seconds": round(s.total_seconds, 3),
        "operations_per_second": round(s.operations_per_second, 1),
    }


def _commands_to_try(oms: Oms, database_url: str | None) -> list[str]:
    """Commands that show the demo's own orders: a split one explained, a delivered one in
    full, a backordered or held one, and the stock of a SKU it shipped."""
    prefix = "omskit" if database_url is None else f"omskit --db {database_url}"
    tries = [f"{prefix} orders list --status delivered"]
    split = delivered = waiting = None
    for summary in oms.orders.iter_all():
        if summary.status is OrderStatus.DELIVERED and delivered is None:
            delivered = summary.id
        if (summary.status in (OrderStatus.BACKORDERED, OrderStatus.ON_HOLD)
                and waiting is None):
            waiting = summary.id
        if split is None and summary.status is not OrderStatus.ON_HOLD:
            order = oms.orders.get(summary.id)
            if len({fo.location for fo in order.fulfillment_orders}) > 1:
                split = order
        if split is not None and delivered is not None and waiting is not None:
            break
    if split is not None:
        tries.append(f"{prefix} orders explain {split.id}   # split over "
                     f"{len({fo.location for fo in split.fulfillment_orders})} locations")
        tries.append(f"{prefix} inventory show {split.lines[0].sku}")
    if delivered is not None:
        if split is None:
            tries.append(f"{prefix} orders explain {delivered}")
        tries.append(f"{prefix} orders show {delivered}")
    if waiting is not None:
        tries.append(f"{prefix} orders show {waiting}   # waiting for stock or an operator")
    collected = next((o.id for o in oms.orders.search(channel="store", limit=200)
                      if o.status in (OrderStatus.DELIVERED, OrderStatus.COMPLETED)), None)
    if collected is not None:
        tries = [t for t in tries if t != f"{prefix} orders show {collected}"]
        tries.append(f"{prefix} orders show {collected}   # picked up in the store: ready, then "
                     "collected")
    for edit in oms.edits.recent("committed", limit=1):
        tries.append(f"{prefix} orders show {edit.order_id}   # edited from the "
                     f"{edit.channel} app")
    return tries


def _invoice_try(invoice: Invoice, database_url: str | None) -> str:
    """The command that shows the demo's invoiced order's invoice, with its PDF."""
    prefix = "omskit" if database_url is None else f"omskit --db {database_url}"
    return (f"{prefix} invoices show {invoice.number} --pdf invoice.pdf   # paid by card, "
            f"captured at shipment, invoiced: {invoice.gross} {invoice.currency}")


def _return_try(oms: Oms, rma: Return, database_url: str | None) -> str:
    """The command that shows the demo's return, with its refund and credit note."""
    prefix = "omskit" if database_url is None else f"omskit --db {database_url}"
    notes = [d.number for d in oms.invoices.for_order(rma.order_id)
             if d.kind is DocumentKind.CREDIT_NOTE]
    refunded = f"{rma.refund.amount} refunded" if rma.refund else "not refunded"
    return (f"{prefix} returns show {rma.id}   # the online order returned in "
            f"{rma.location}: {refunded}, credit note {', '.join(notes) or '-'}")


def _smtp_address(value: str | None) -> tuple[str, int] | None:
    if value is None:
        return None
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise click.BadParameter(f"{value!r} is not HOST:PORT", param_hint="--smtp")
    return host, int(port)


def _print_mails(console: Console, mails: list[dict[str, str]], mail_dir: str) -> None:
    table = Table("to", "subject", title=f"e-mails sent (written to {mail_dir}/)")
    for mail in mails:
        table.add_row(mail["to"], mail["subject"])
    console.print(table)


def _print(console: Console, s: DemoSummary, where: str, tries: list[str],
           exceptions: Counter[str]) -> None:
    statuses = Table("status", "orders", title="orders by status")
    for status, count in sorted(s.by_status.items(), key=lambda kv: -kv[1]):
        statuses.add_row(status, str(count))
    channels = Table("channel", "orders", title="orders by channel")
    for channel, count in sorted(s.by_channel.items(), key=lambda kv: -kv[1]):
        channels.add_row(channel, str(count))
    locations = Table("location", "units shipped", "units reserved", title="units per location")
    for code in sorted(set(s.units_shipped_by_location) | set(s.units_reserved_by_location)):
        locations.add_row(code, str(s.units_shipped_by_location.get(code, 0)),
                          str(s.units_reserved_by_location.get(code, 0)))
    kpis = Table("measure", "value", title="the day")
    kpis.add_row("orders placed", str(s.orders))
    kpis.add_row("network", f"{s.locations} locations, {s.skus} SKUs")
    kpis.add_row("split rate", f"{s.split_rate:.1%} of routed orders")
    kpis.add_row("backorder rate", f"{s.backorder_rate:.1%} of routed orders")
    kpis.add_row("held / cancelled", f"{s.held_orders} / {s.cancelled_orders}")
    kpis.add_row("rejected fulfilment orders (re-routed)", str(s.rejected_fulfillment_orders))
    kpis.add_row("placement throughput", f"{s.placements_per_second:.0f} orders/s "
                 f"({s.placement_seconds:.2f} s for {s.orders})")
    kpis.add_row("all operations", f"{s.operations} in {s.total_seconds:.2f} s "
                 f"({s.operations_per_second:.0f}/s)")
    raised = Table("exception", "orders", title="exceptions at the day's end")
    for kind, count in sorted(exceptions.items(), key=lambda kv: -kv[1]):
        raised.add_row(kind, str(count))
    for table in (kpis, statuses, channels, locations, raised):
        console.print(table)
    console.print(f"database: {where}\ntry:")
    for line in tries:
        console.print(f"  {line}", highlight=False, soft_wrap=True)
