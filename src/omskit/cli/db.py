"""``omskit db``: schema migrations."""

from __future__ import annotations

import click

from omskit.cli.context import CliState, pass_state
from omskit.cli.opening import NoDatabase
from omskit.store import migrate


@click.group()
def db() -> None:
    """Manage omskit's tables."""


@db.command()
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@pass_state
def upgrade(state: CliState, revision: str) -> None:
    """Create or upgrade omskit's tables (Alembic, version table <prefix>alembic_version)."""
    oms = state.oms("create")
    oms.upgrade(revision)
    now = migrate.current(oms.engine, prefix=oms.tables.prefix,
                          schema=oms.tables.locations.schema)
    click.echo(f"omskit tables at revision {now} on {oms.engine.url.render_as_string()}")


@db.command()
@pass_state
def current(state: CliState) -> None:
    """Print the revision the database is at ('none' before the first upgrade, or when
    the database does not exist yet: it is not created)."""
    try:
        oms = state.oms("database")
    except NoDatabase:
        click.echo("none")
        return
    found = migrate.current(oms.engine, prefix=oms.tables.prefix,
                            schema=oms.tables.locations.schema)
    click.echo(found or "none")
