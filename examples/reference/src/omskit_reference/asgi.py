"""The application for ASGI servers that start their own workers
(``uvicorn --factory omskit_reference.asgi:app_from_environment --workers 4``).

Each worker opens the deployment from ``OMSKIT_DATABASE_URL`` without migrating: the process
that starts the workers (``omskit-reference serve``) has migrated the database once, so
workers never race each other over the schema.
"""

from __future__ import annotations

import os

import omskit
from litestar import Litestar

from omskit_reference.app import create_app
from omskit_reference.deployment import Deployment
from omskit_reference.seed import DEMO_CARRIERS

ENV_DATABASE = "OMSKIT_DATABASE_URL"
ENV_SCHEMA = "OMSKIT_SCHEMA"
ENV_POOL_SIZE = "OMSKIT_POOL_SIZE"
#: Connections each API process keeps open to PostgreSQL. Litestar serves sync handlers on
#: a thread pool: with SQLAlchemy's default of 5 (plus overflow connections closed after
#: use), a busy process opens and closes sessions all the time.
DEFAULT_POOL_SIZE = 10


def engine_options(url: str, pool_size: int) -> dict[str, int]:
    """The connection pool of one API process (PostgreSQL; SQLite keeps its own)."""
    if not url.startswith("postgresql"):
        return {}
    return {"pool_size": pool_size, "max_overflow": pool_size}


def app_from_environment() -> Litestar:
    """One worker's application over the database ``OMSKIT_DATABASE_URL`` names, in the
    schema ``OMSKIT_SCHEMA`` (default: the search path), with ``OMSKIT_POOL_SIZE``
    connections."""
    url = os.environ.get(ENV_DATABASE)
    if not url:
        raise RuntimeError(f"{ENV_DATABASE} must name the deployment's database")
    pool = os.environ.get(ENV_POOL_SIZE, "")
    if pool and not (pool.isdigit() and 1 <= int(pool) <= 1000):
        raise RuntimeError(f"{ENV_POOL_SIZE} must be a whole number from 1 to 1000, "
                           f"not {pool!r}")
    deployment = Deployment.open(
        url, migrate=False, plugins=[omskit.ManualCarriers(*DEMO_CARRIERS)],
        schema=os.environ.get(ENV_SCHEMA) or None,
        engine_options=engine_options(url, int(pool) if pool else DEFAULT_POOL_SIZE))
    app = create_app(deployment)
    app.on_shutdown.append(lambda: deployment.close())
    return app
