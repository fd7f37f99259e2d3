"""``omskit simulate``: replay orders through a network with several routing strategies."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TimeElapsedColumn
from rich.table import Table

from omskit.cli.context import CliState, echo_json, pass_state
from omskit.domain.errors import UnknownRoutingStrategy
from omskit.simulate import (
    DEFAULT_STRATEGIES,
    InputError,
    Kpis,
    ReportUnavailable,
    kpis,
    load_network,
    load_orders,
    load_plotly,
    write_decisions,
    write_report,
)
from omskit.simulate.runner import simulate as run_simulation

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_OUT = click.Path(dir_okay=False, writable=True, path_type=Path)


@click.command()
@click.argument("network_file", metavar="NETWORK", type=_FILE)
@click.argument("orders_file", metavar="ORDERS", type=_FILE)
@click.option("--strategy", "strategies", multiple=True, metavar="CODE",
              help="Routing strategy to run; repeat to compare "
                   f"[default: {', '.join(DEFAULT_STRATEGIES)}].")
@click.option("--out", type=_OUT, default=None,
              help="Write every decision to this JSON Lines file.")
@click.option("--report", type=_OUT, default=None,
              help="Write a self-contained HTML report (needs omskit[simulate]).")
@click.option("--plugins", "use_plugins", is_flag=True,
              help="Also load installed plugins (entry points); off by default so that runs "
                   "are reproducible.")
@click.option("--json", "as_json", is_flag=True, help="Print the KPIs as JSON.")
@pass_state
def simulate(state: CliState, network_file: Path, orders_file: Path,
             strategies: tuple[str, ...], out: Path | None, report: Path | None,
             use_plugins: bool, as_json: bool) -> None:
    """Replay ORDERS (orders.jsonl) through NETWORK (network.json) with each strategy.

    Every strategy runs the real routing engine on its own throwaway SQLite database (the
    group's --db is not used) and starts from the same stock. Prints cost, split, distance,
    backorder and on-time figures per strategy; --out writes each decision, --report an
    HTML page with charts. Formats: docs/formats.md.
    """
    if report is not None:
        try:
            load_plotly()
        except ReportUnavailable as exc:
            raise click.UsageError(f"--report: {exc}") from exc
    chosen = tuple(dict.fromkeys(strategies)) or DEFAULT_STRATEGIES
    try:
        network = load_network(network_file)
        orders = load_orders(orders_file, currency=network.currency)
    except InputError as exc:
        raise click.ClickException(str(exc)) from exc
    if not orders:
        raise click.ClickException(f"{orders_file}: no orders")

    console = state.console if not as_json else Console(stderr=True)
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                  transient=as_json) as bar:
        tasks: dict[str, TaskID] = {s: bar.add_task(s, total=len(orders)) for s in chosen}

        def progress(strategy: str, done: int, _total: int) -> None:
            bar.update(tasks[strategy], completed=done)

        try:
            runs = run_simulation(network, orders, chosen, load_entrypoints=use_plugins,
                                  settings=state.settings, progress=progress)
        except UnknownRoutingStrategy as exc:
            raise click.BadParameter(str(exc), param_hint="'--strategy'") from exc
    results = [kpis(run) for run in runs]
    if out is not None:
        write_decisions(out, runs)
    if report is not None:
        write_report(report, network, runs, results, network_name=network_file.name,
                     orders_name=orders_file.name)
    if as_json:
        echo_json([k.as_dict() for k in results])
    else:
        _print(state.console, results, network.currency)
        for label, path in (("decisions", out), ("report", report)):
            if path is not None:
                state.console.print(f"{label}: {path}")


def _print(console: Console, results: list[Kpis], currency: str) -> None:
    table = Table("measure", *(k.strategy for k in results),
                  title=f"{results[0].orders} orders, {results[0].units} units")
    best = min(k.total_cost for k in results)

    def row(label: str, values: list[str]) -> None:
        table.add_row(label, *values)

    row(f"total cost ({currency})",
        [f"[bold]{k.total_cost:,.2f}[/bold]" if k.total_cost == best else f"{k.total_cost:,.2f}"
         for k in results])
    row(f"cost per order ({currency})", [f"{k.cost_per_order:.2f}" for k in results])
    row("split rate", [f"{k.split_rate:.1%}" for k in results])
    row("shipments per order", [f"{k.shipments_per_order:.3f}" for k in results])
    row("mean distance per shipment", [f"{k.mean_distance_km:,.1f} km" for k in results])
    row("backorder rate (units)",
        [f"{k.unit_backorder_rate:.2%} ({k.units_backordered})" for k in results])
    row("backorder rate (orders)",
        [f"{k.order_backorder_rate:.2%} ({k.backordered_orders})" for k in results])
    row("on-time promise rate", [f"{k.on_time_rate:.1%}" for k in results])
    if any(k.held_orders for k in results):
        row("held orders (not routed)", [str(k.held_orders) for k in results])
    row("decision latency p50 / p95",
        [f"{k.decision_ms_p50:.2f} / {k.decision_ms_p95:.2f} ms" for k in results])
    row("placement (mean)", [f"{k.place_ms_mean:.2f} ms" for k in results])
    console.print(table)
