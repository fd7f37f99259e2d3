"""The Litestar application of the reference deployment."""

from __future__ import annotations

from litestar import Litestar
from litestar.di import Provide
from litestar.middleware.base import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.attrs import AttrsSchemaPlugin

from omskit_reference import problems
from omskit_reference.access import PUBLIC_PATHS, ApiKeyAuthentication
from omskit_reference.api import CONTROLLERS, health
from omskit_reference.deployment import Deployment

VERSION = "0.1.0"


def create_app(deployment: Deployment, *, debug: bool = False) -> Litestar:
    """The HTTP API over one deployment (the caller closes the deployment)."""
    return Litestar(
        route_handlers=[*CONTROLLERS, health],
        dependencies={"deployment": Provide(lambda: deployment, sync_to_thread=False)},
        middleware=[DefineMiddleware(ApiKeyAuthentication, exclude=PUBLIC_PATHS)],
        plugins=[problems.plugin(), AttrsSchemaPlugin()],
        exception_handlers={Exception: problems.unexpected},
        openapi_config=OpenAPIConfig(
            title="omskit reference deployment", version=VERSION,
            components=Components(security_schemes={
                "apiKey": SecurityScheme(type="http", scheme="bearer",
                                         description="An API key: omsk_<id>_<secret>")}),
            security=[{"apiKey": []}]),
        on_startup=[lambda app: setattr(app.state, "api_keys", deployment.keys)],
        debug=debug,
    )
