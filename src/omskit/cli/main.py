"""The ``omskit`` group and its commands."""

from __future__ import annotations

import sys

import click

from omskit.cli.context import CliState
from omskit.cli.db import db
from omskit.cli.demo import demo
from omskit.cli.inventory import inventory
from omskit.cli.orders import orders
from omskit.cli.outbox import outbox
from omskit.cli.plugins import plugins
from omskit.cli.simulate import simulate
from omskit.domain.errors import OmsError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", "database_url", envvar="OMSKIT_DATABASE_URL", default=None,
              help="Database URL [env OMSKIT_DATABASE_URL; default sqlite:///omskit.db].")
@click.option("--schema", envvar="OMSKIT_DB_SCHEMA", default=None,
              help="Database schema of omskit's tables [env OMSKIT_DB_SCHEMA].")
@click.option("--table-prefix", envvar="OMSKIT_TABLE_PREFIX", default="omskit_",
              show_default=True, help="Prefix of omskit's table names.")
@click.option("--no-plugins", is_flag=True,
              help="Do not load plugins from the 'omskit' entry-point group.")
@click.version_option(package_name="omskit")
@click.pass_context
def cli(ctx: click.Context, database_url: str | None, schema: str | None, table_prefix: str,
        no_plugins: bool) -> None:
    """omskit: an embeddable order management system."""
    state = CliState(database_url=database_url, load_plugins=not no_plugins, schema=schema,
                     table_prefix=table_prefix)
    ctx.obj = state
    ctx.call_on_close(state.close)


cli.add_command(db)
cli.add_command(plugins)
cli.add_command(orders)
cli.add_command(inventory)
cli.add_command(outbox)
cli.add_command(demo)
cli.add_command(simulate)


def main() -> None:
    """Entry point of the ``omskit`` script: typed omskit errors exit 1 with their message."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except OmsError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
