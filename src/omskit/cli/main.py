"""The ``omskit`` group and its commands.

Commands are imported only when one runs: ``omskit --help`` lists them from the table below
without importing the library (SQLAlchemy, SciPy...), so it answers at once.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import click

from omskit.cli.context import CliState, read_settings

#: Every command: its name, where it lives and its one-line help, shown by ``omskit --help``
#: without importing it (``tests/test_cli_newcomer.py`` checks each line against the
#: command's own help).
COMMANDS: dict[str, tuple[str, str]] = {
    "db": ("omskit.cli.db:db", "Manage omskit's tables."),
    "plugins": ("omskit.cli.plugins:plugins",
                "List registered plugins: distribution, version, hooks, and what each "
                "contributed (channels, routing strategies, carriers, event types)."),
    "orders": ("omskit.cli.orders:orders",
               "Find and read orders; edit them, cancel lines and close orders short."),
    "inventory": ("omskit.cli.inventory:inventory", "Inspect stock."),
    "pickups": ("omskit.cli.pickups:pickups",
                "Pick up in store: mark ready, collect, expire the uncollected."),
    "outbox": ("omskit.cli.outbox:outbox",
               "Pending and parked events: status, dispatch, retry, skip; relays to brokers."),
    "invoices": ("omskit.cli.invoices:invoices",
                 "Invoices and credit notes: list them, show one, write its PDF."),
    "journal": ("omskit.cli.invoices:journal",
                "The journal of postings (invoices, credit notes, captures, refunds): export "
                "it."),
    "exceptions": ("omskit.cli.monitoring:exceptions",
                   "Orders an operator must look at: late, stuck, long backordered, held; "
                   "authorisations about to expire; parked events."),
    "sweep": ("omskit.cli.monitoring:sweep",
              "Run the periodic jobs once (or --loop): expire lapsed cart holds and order "
              "edits, renew expired authorisations, raise and clear exceptions, send messages "
              "due for a retry."),
    "returns": ("omskit.cli.returns:returns",
                "Returns (RMAs): request, approve, label, receive, inspect, refund and close."),
    "suppliers": ("omskit.cli.suppliers:suppliers",
                  "Dropship suppliers: process what they sent back, list purchase orders."),
    "notifications": ("omskit.cli.notifications:notifications",
                      "Customer messages: list them, set preferences, retry a failed one."),
    "demo": ("omskit.cli.demo:demo",
             "Seed an Italian network and run a day of omnichannel orders through their life."),
    "simulate": ("omskit.cli.simulate:simulate",
                 "Replay ORDERS (orders.jsonl) through NETWORK (network.json) with each "
                 "strategy."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use (click's lazy-loading recipe),
    with their one-line help given up front so that ``--help`` imports none of them."""

    def __init__(self, *args: Any, lazy: dict[str, tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        module_name, _, attr = self.lazy[cmd_name][0].partition(":")
        command = getattr(importlib.import_module(module_name), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.lazy[cmd_name][0]} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        limit = formatter.width - 6 - max(len(name) for name in self.list_commands(ctx))
        rows = []
        for name in self.list_commands(ctx):
            if name in self.lazy:
                summary = self.lazy[name][1]
                if len(summary) > limit:
                    summary = summary[: max(limit - 3, 0)].rstrip() + "..."
                rows.append((name, summary))
            else:
                command = super().get_command(ctx, name)
                if command is not None and not command.hidden:
                    rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _settings(ctx: click.Context, _param: click.Parameter, value: Path | None) -> Any:
    return read_settings(value) if value is not None else {}


@click.group(cls=LazyGroup, lazy=COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", "database_url", envvar="OMSKIT_DATABASE_URL", default=None,
              help="Database URL [env OMSKIT_DATABASE_URL; default sqlite:///omskit.db].")
@click.option("--schema", envvar="OMSKIT_DB_SCHEMA", default=None,
              help="Database schema of omskit's tables [env OMSKIT_DB_SCHEMA].")
@click.option("--table-prefix", envvar="OMSKIT_TABLE_PREFIX", default="omskit_",
              show_default=True, help="Prefix of omskit's table names.")
@click.option("--settings", "settings", envvar="OMSKIT_SETTINGS", default=None,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              callback=_settings,
              help="TOML file of plugin settings, one table per plugin ([routing]...), "
                   "given to every command [env OMSKIT_SETTINGS].")
@click.option("--no-plugins", is_flag=True,
              help="Do not load plugins from the 'omskit' entry-point group.")
@click.version_option(package_name="omskit")
@click.pass_context
def cli(ctx: click.Context, database_url: str | None, schema: str | None, table_prefix: str,
        settings: dict[str, Any], no_plugins: bool) -> None:
    """omskit: an embeddable order management system."""
    state = CliState(database_url=database_url, load_plugins=not no_plugins, schema=schema,
                     table_prefix=table_prefix, settings=settings)
    ctx.obj = state
    ctx.call_on_close(state.close)


def main() -> None:
    """Entry point of the ``omskit`` script.

    A user's mistake never ends in a traceback: typed omskit errors, plugin errors and
    database errors print one line and exit 1. Anything else is a bug in omskit or a
    plugin, and keeps its traceback for the report.
    """
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Exception as exc:
        message = user_error(exc)
        if message is None:
            raise
        click.echo(f"error: {message}", err=True)
        sys.exit(1)


def user_error(exc: BaseException) -> str | None:
    """The one line to print for an error caused by the user's input or setup, or ``None``
    when ``exc`` is a bug."""
    # Imported here: these modules are loaded by then, since a command ran.
    import sqlalchemy as sa

    from omskit.domain.errors import OmsError

    if isinstance(exc, OmsError):
        return str(exc)
    if isinstance(exc, sa.exc.OperationalError | sa.exc.ProgrammingError):
        orig = getattr(exc, "orig", None) or exc
        text = str(orig).strip().splitlines()
        return f"database: {text[0] if text else type(orig).__name__}"
    return None
