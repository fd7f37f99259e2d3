"""``omskit outbox``: pending and parked events, and what an operator does about them."""

from __future__ import annotations

import time

import click
from rich.table import Table

from omskit.cli.context import CliState, echo_json, pass_state


@click.group()
def outbox() -> None:
    """Pending and parked events: status, dispatch, retry, skip; relays to brokers."""


@outbox.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def status(state: CliState, as_json: bool) -> None:
    """How many events wait for dispatch, and how many are parked."""
    oms = state.oms()
    counts = {"pending": oms.outbox.pending_count(), "parked": oms.outbox.parked_count()}
    if as_json:
        echo_json(counts)
        return
    click.echo(f"pending: {counts['pending']}\nparked: {counts['parked']}")


@outbox.command("parked")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True,
              help="How many to list.")
@click.option("--after", type=int, default=None, help="List those after this seq.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_state
def parked(state: CliState, limit: int, after: int | None, as_json: bool) -> None:
    """Parked events, oldest first, with their attempts and last error."""
    found = state.oms().outbox.parked(limit=limit, after=after)
    if as_json:
        echo_json([{"seq": r.seq, "event_id": r.event.event_id,
                    "event_type": r.event.event_type, "order_id": r.event.order_id,
                    "occurred_at": r.event.occurred_at.isoformat(), "attempts": r.attempts,
                    "parked_at": r.parked_at.isoformat() if r.parked_at else None,
                    "last_error": r.last_error} for r in found])
        return
    table = Table("seq", "event", "order", "attempts", "parked at", "last error",
                  title="parked events")
    for r in found:
        table.add_row(str(r.seq), r.event.event_type, r.event.order_id or "-",
                      str(r.attempts), r.parked_at.isoformat() if r.parked_at else "-",
                      r.last_error or "")
    state.console.print(table)


@outbox.command("retry")
@click.argument("seqs", type=int, nargs=-1, required=True)
@pass_state
def retry(state: CliState, seqs: tuple[int, ...]) -> None:
    """Offer parked events SEQS again (delivered now if this process has their handlers,
    else by the next dispatch)."""
    oms = state.oms()
    for seq in seqs:
        record = oms.outbox.retry(seq)
        outcome = ("delivered" if record.dispatched_at else
                   "parked again" if record.parked else "pending")
        click.echo(f"event {seq} ({record.event.event_type}): {outcome}")


@outbox.command("skip")
@click.argument("seqs", type=int, nargs=-1, required=True)
@click.option("--reason", required=True, help="Why the events are given up on.")
@pass_state
def skip(state: CliState, seqs: tuple[int, ...], reason: str) -> None:
    """Give up on parked events SEQS: marked dispatched, never delivered."""
    oms = state.oms()
    for seq in seqs:
        record = oms.outbox.skip(seq, reason=reason)
        click.echo(f"event {seq} ({record.event.event_type}): skipped")


@outbox.command("dispatch")
@click.option("--limit", type=click.IntRange(1, 10_000), default=500, show_default=True,
              help="Most events per batch.")
@pass_state
def dispatch(state: CliState, limit: int) -> None:
    """Deliver pending events to the core's handlers and to the plugins this process loads,
    batch after batch until none is left or one fails."""
    oms = state.oms()
    total = 0
    while True:
        delivered, failed = oms.outbox.dispatch_batch(limit)
        total += delivered
        if failed or delivered == 0:
            break
    click.echo(f"delivered {total}; pending {oms.outbox.pending_count()}, "
               f"parked {oms.outbox.parked_count()}")


@outbox.command("relay")
@click.argument("name")
@click.option("--once", "mode", flag_value="once", default=True,
              help="Relay until nothing waits or a batch fails, then exit (default).")
@click.option("--loop", "mode", flag_value="loop",
              help="Keep relaying, polling every --interval seconds when idle, until "
                   "interrupted (a worker process).")
@click.option("--limit", type=click.IntRange(1, 10_000), default=100, show_default=True,
              help="Most events per batch.")
@click.option("--interval", type=click.FloatRange(0.05, 3600), default=1.0,
              show_default=True, help="Seconds to wait when idle or after a failed batch "
                                      "(--loop).")
@pass_state
def relay(state: CliState, name: str, mode: str, limit: int, interval: float) -> None:
    """Publish pending events to a broker through the event relay NAME (a plugin's), and
    record per relay what the broker confirmed. Several workers may run at once."""
    oms = state.oms()
    delivered = 0
    error: str | None = None
    try:
        while True:
            run = oms.outbox.relay(name, limit=limit)
            delivered += run.delivered
            error = run.error
            if error is not None and mode == "loop":
                # A worker outlives a broker outage: say so, wait, and try again.
                click.echo(f"relay {name}: batch failed, nothing marked: {error}", err=True)
            idle = run.claimed == 0 or run.failed
            if mode == "once" and idle:
                break
            if idle:
                time.sleep(interval)
    except KeyboardInterrupt:  # a worker stopped by its operator: report, do not trace
        pass
    status = oms.outbox.relay_status(name)
    click.echo(f"relay {name}: delivered {delivered}; pending {status.pending}, "
               f"parked {status.parked}")
    if mode == "once" and error is not None:
        raise click.ClickException(f"relay {name}: the broker failed the batch, nothing "
                                   f"of it marked delivered: {error}")
