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


def app_from_environment() -> Litestar:
    """One worker's application over the database ``OMSKIT_DATABASE_URL`` names."""
    url = os.environ.get(ENV_DATABASE)
    if not url:
        raise RuntimeError(f"{ENV_DATABASE} must name the deployment's database")
    deployment = Deployment.open(url, migrate=False,
                                 plugins=[omskit.ManualCarriers(*DEMO_CARRIERS)])
    app = create_app(deployment)
    app.on_shutdown.append(lambda: deployment.close())
    return app
