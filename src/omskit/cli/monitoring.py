"""``omskit exceptions`` and ``omskit sweep``: what an operator must see, and the periodic
jobs a worker runs."""

from __future__ import annotations

import time
from typing import Any

import click
from rich.table import Table

from omskit.cli.context import CliState, echo_json, pass_state

_KINDS = ("late", "stuck", "backorder_aged", "held", "authorisation_expiring",
          "outbox_parked", "pickup_uncollected")
_JOBS = ("carts", "edits", "authorisations", "pickups", "monitor", "notifications")


@click.command("exceptions")
@click.option("--kind", "kinds", type=click.Choice(_KINDS), multiple=True,
              help="Only this kind (repeatable).")
@click.option("--order", "order_id", default=None, help="Only this order's exceptions.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_state
def exceptions(state: CliState, kinds: tuple[str, ...], order_id: str | None,
               as_json: bool) -> None:
    """Orders an operator must look at: late, stuck, long backordered, held; authorisations
    about to expire; parked events. Oldest breach first; reads only."""
    found = state.oms().monitor.exceptions(kinds=kinds or None, order_id=order_id)
    if as_json:
        echo_json([{"key": x.key, "kind": x.kind.value, "order_id": x.order_id,
                    "subject": x.subject, "since": x.since.isoformat(), "detail": x.detail}
                   for x in found])
        return
    table = Table("since", "kind", "order", "detail", title=f"exceptions ({len(found)})")
    for x in found:
        table.add_row(x.since.strftime("%Y-%m-%d %H:%M"), x.kind.value, x.order_id or "-",
                      x.detail)
    state.console.print(table)


def _summary(report: Any) -> dict[str, Any]:
    monitor = report.monitor
    return {
        "ran": report.ran, "at": report.at.isoformat(), "jobs": list(report.jobs),
        "carts_expired": report.carts_expired, "edits_expired": report.edits_expired,
        "authorisations_renewed": report.authorisations_renewed,
        "pickups_expired": report.pickups_expired,
        "exceptions_raised": len(monitor.raised) if monitor else 0,
        "exceptions_cleared": len(monitor.cleared) if monitor else 0,
        "exceptions_open": monitor.open if monitor else None,
        "notifications_retried": report.notifications_retried,
        "failed": [{"job": f.job, "error": f.error, "message": f.message}
                   for f in report.failed],
    }


@click.command("sweep")
@click.option("--job", "jobs", type=click.Choice(_JOBS), multiple=True,
              help="Only this job (repeatable; default: all).")
@click.option("--loop", is_flag=True, help="Sweep again every --interval seconds, until "
              "interrupted.")
@click.option("--interval", type=click.FloatRange(1, 86_400), default=60, show_default=True,
              help="Seconds between sweeps with --loop.")
@click.option("--json", "as_json", is_flag=True, help="Print each report as JSON.")
@pass_state
def sweep(state: CliState, jobs: tuple[str, ...], loop: bool, interval: float,
          as_json: bool) -> None:
    """Run the periodic jobs once (or --loop): expire lapsed cart holds and order edits,
    renew expired authorisations, raise and clear exceptions, send messages due for a retry.
    Safe with several workers:
    one sweeps at a time, the others skip."""
    oms = state.oms()
    while True:
        report = _summary(oms.sweeps.run(jobs=jobs or None))
        if as_json:
            echo_json(report)
        elif not report["ran"]:
            click.echo("another process is sweeping: skipped")
        else:
            click.echo(
                f"swept {', '.join(report['jobs'])}: {report['carts_expired']} cart hold(s) "
                f"and {report['edits_expired']} edit(s) expired, "
                f"{report['authorisations_renewed']} authorisation(s) renewed, "
                f"{report['pickups_expired']} uncollected pickup(s) cancelled, "
                f"{report['exceptions_raised']} exception(s) raised, "
                f"{report['exceptions_cleared']} cleared, {report['exceptions_open']} open, "
                f"{report['notifications_retried']} message(s) sent again")
        for failure in report["failed"]:
            click.echo(f"job {failure['job']} failed: {failure['error']}: "
                       f"{failure['message']}", err=True)
        if not loop:
            # A one-off sweep (cron, a scheduler) must see a failed job in its exit status;
            # a --loop worker keeps going, as the next round runs the job again.
            if report["failed"]:
                raise SystemExit(1)
            return
        time.sleep(interval)
