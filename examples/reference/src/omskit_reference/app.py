"""The Litestar application of the reference deployment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Litestar, Request, Response
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException
from litestar.middleware.base import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.attrs import AttrsSchemaPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from omskit_reference import problems
from omskit_reference.access import PUBLIC_PATHS, ApiKeyAuthentication
from omskit_reference.api import CONTROLLERS, health
from omskit_reference.deployment import Deployment
from omskit_reference.desk import ReturnsDesk
from omskit_reference.documents import CONTROLLERS as DOCUMENTS
from omskit_reference.dropship import CONTROLLERS as DROPSHIP
from omskit_reference.edits import CONTROLLERS as EDITS
from omskit_reference.notifications import CONTROLLERS as NOTIFICATIONS
from omskit_reference.operations import CONTROLLERS as OPERATIONS
from omskit_reference.pages import Pages, track, track_messages
from omskit_reference.promise import CONTROLLERS as PROMISE
from omskit_reference.returns import CONTROLLERS as RETURNS

VERSION = "0.1.0"
HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def sign_in_first(request: Request[Any, Any, Any],
                  exc: NotAuthorizedException) -> Response[Any]:
    """A page without a signed-in key goes to the sign-in form; the API answers 401."""
    if request.url.path.startswith("/ui"):
        return Redirect("/ui/login", status_code=303)
    return problems.http_problem(exc).to_response(request)


def create_app(deployment: Deployment, *, debug: bool = False) -> Litestar:
    """The HTTP API over one deployment (the caller closes the deployment)."""
    return Litestar(
        route_handlers=[*CONTROLLERS, *EDITS, *PROMISE, *DROPSHIP, *NOTIFICATIONS, *OPERATIONS,
                        *DOCUMENTS, *RETURNS,
                        health, Pages, ReturnsDesk, track, track_messages,
                        create_static_files_router(path="/static", directories=[STATIC],
                                                   include_in_schema=False)],
        dependencies={"deployment": Provide(lambda: deployment, sync_to_thread=False)},
        middleware=[DefineMiddleware(ApiKeyAuthentication,
                                     exclude=[*PUBLIC_PATHS, "^/ui", "^/track/", "^/static/"])],
        plugins=[problems.plugin(), AttrsSchemaPlugin()],
        exception_handlers={Exception: problems.unexpected,
                            NotAuthorizedException: sign_in_first},
        template_config=TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine),
        openapi_config=OpenAPIConfig(
            title="omskit reference deployment", version=VERSION,
            components=Components(security_schemes={
                "apiKey": SecurityScheme(type="http", scheme="bearer",
                                         description="An API key: omsk_<id>_<secret>")}),
            security=[{"apiKey": []}]),
        on_startup=[lambda app: setattr(app.state, "api_keys", deployment.keys)],
        debug=debug,
    )
