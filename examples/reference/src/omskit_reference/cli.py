"""``omskit-reference``: run the deployment, and manage its API keys."""

from __future__ import annotations

import os
import time

import click
import omskit
import uvicorn

from omskit_reference.app import create_app
from omskit_reference.asgi import (
    DEFAULT_POOL_SIZE,
    ENV_DATABASE,
    ENV_POOL_SIZE,
    ENV_SCHEMA,
    engine_options,
)
from omskit_reference.deployment import Deployment
from omskit_reference.keys import Scope
from omskit_reference.seed import DEMO_CARRIERS, seed

DEFAULT_DATABASE = "sqlite:///omskit-reference.db"


def _open(database: str, schema: str | None = None, *, migrate: bool = True,
          pool_size: int | None = None) -> Deployment:
    options = {} if pool_size is None else engine_options(database, pool_size)
    return Deployment.open(database, plugins=[omskit.ManualCarriers(*DEMO_CARRIERS)],
                           schema=schema, migrate=migrate, engine_options=options)


_DATABASE = click.option("--database", default=DEFAULT_DATABASE, show_default=True,
                         envvar="OMSKIT_DATABASE_URL",
                         help="SQLAlchemy URL (sqlite:///file.db or postgresql://...).")
_SCHEMA = click.option("--schema", default=None, envvar=ENV_SCHEMA,
                       help="PostgreSQL schema of the tables (default: the search path).")


@click.group()
def main() -> None:
    """The omskit reference deployment."""


@main.command()
@_DATABASE
@_SCHEMA
def migrate(database: str, schema: str | None) -> None:
    """Bring the database up to date (omskit's migrations, then the deployment's own
    tables) and stop: run it once before starting API processes on several machines."""
    _open(database, schema).close()
    click.echo("database up to date")


@main.command()
@_DATABASE
@_SCHEMA
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--demo", is_flag=True, help="Load demo data (a network, stock, orders) first.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="API processes (more than one: each opens the database itself).")
@click.option("--pool-size", default=DEFAULT_POOL_SIZE, show_default=True,
              envvar=ENV_POOL_SIZE, type=click.IntRange(1, 1000),
              help="PostgreSQL connections each API process keeps (as many more may be "
                   "opened for bursts).")
@click.option("--no-migrate", is_flag=True,
              help="Do not migrate (another process did: `omskit-reference migrate`).")
def serve(database: str, schema: str | None, host: str, port: int, demo: bool, workers: int,
          pool_size: int, no_migrate: bool) -> None:
    """Migrate the database, issue an admin key, and serve the API and the pages."""
    deployment = _open(database, schema, migrate=not no_migrate, pool_size=pool_size)
    if demo:
        seed(deployment.oms)
    issued = deployment.keys.issue("admin (serve)", Scope.ADMIN)
    click.echo(f"omskit reference deployment on http://{host}:{port}/ "
               f"(OpenAPI: http://{host}:{port}/schema, pages: http://{host}:{port}/ui/)")
    click.echo(f"admin key: {issued.token}", nl=True)
    try:
        if workers == 1:
            uvicorn.run(create_app(deployment), host=host, port=port, log_level="warning")
        else:
            deployment.close()
            os.environ[ENV_DATABASE] = database
            os.environ[ENV_POOL_SIZE] = str(pool_size)
            if schema:
                os.environ[ENV_SCHEMA] = schema
            uvicorn.run("omskit_reference.asgi:app_from_environment", factory=True,
                        workers=workers, host=host, port=port, log_level="warning",
                        # A worker imports omskit (SciPy included) before it answers its
                        # first health check: on a busy machine that takes longer than
                        # uvicorn's default 5 s, and the worker would be killed and restarted.
                        timeout_worker_healthcheck=60)
    finally:
        deployment.close()


@main.command("issue-key")
@click.option("--database", default=DEFAULT_DATABASE, show_default=True,
              envvar="OMSKIT_DATABASE_URL")
@click.option("--name", required=True)
@click.option("--scope", type=click.Choice([s.value for s in Scope]), required=True)
@click.option("--location", help="The store a store key works for.")
@click.option("--channel", help="The channel a channel key sells through.")
def issue_key(database: str, name: str, scope: str, location: str | None,
              channel: str | None) -> None:
    """Issue an API key and print its token (shown once)."""
    deployment = _open(database)
    try:
        issued = deployment.keys.issue(name, Scope(scope), location=location, channel=channel)
    except omskit.OmsError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        deployment.close()
    click.echo(issued.token)


@main.command()
@_DATABASE
@_SCHEMA
@click.option("--interval", default=30.0, show_default=True, type=click.FloatRange(1, 3600),
              help="Seconds between rounds.")
@click.option("--once", is_flag=True, help="Run one round and stop.")
def worker(database: str, schema: str | None, interval: float, once: bool) -> None:
    """Deliver pending events to this process's handlers and run the periodic sweeps
    (lapsed cart holds and edits, expired authorisations, the exceptions), every --interval
    seconds. Run as many as you like: one sweeps at a time, the others skip."""
    deployment = _open(database, schema)
    oms = deployment.oms
    try:
        while True:
            delivered = oms.outbox.dispatch_pending()
            report = oms.sweeps.run()
            raised = len(report.monitor.raised) if report.monitor else 0
            cleared = len(report.monitor.cleared) if report.monitor else 0
            click.echo(f"delivered {delivered} event(s); "
                       + (f"swept: {report.carts_expired} cart hold(s) and "
                          f"{report.edits_expired} edit(s) expired, "
                          f"{report.authorisations_renewed} authorisation(s) renewed, "
                          f"{raised} exception(s) raised, {cleared} cleared"
                          if report.ran else "another worker is sweeping"))
            if once:
                return
            time.sleep(interval)
    finally:
        deployment.close()
