"""omskit's typed errors as RFC 9457 problem documents.

Every error omskit raises on purpose is an ``OmsError`` whose class says what went wrong;
this module gives each class its HTTP status (the nearest class in its MRO decides), its
``type`` (``urn:omskit:error:<ClassName>``, stable across releases like the class name) and
its ``title`` (the first line of the class's docstring). ``problems``, when the error lists
several, goes along as an extension member so a client can show all of them at once.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import attrs
import omskit
from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.openapi.datastructures import ResponseSpec
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

#: The status of each error class; subclasses not named here take their nearest base's.
STATUS: dict[type[Exception], int] = {
    omskit.InvalidCommand: 422,
    omskit.InvalidWebhook: 400,
    omskit.NotFound: 404,
    omskit.IllegalTransition: 409,
    omskit.TransitionVetoed: 409,
    omskit.InsufficientStock: 409,
    omskit.IdempotencyConflict: 409,
    omskit.IdempotencyKeyConflict: 409,
    omskit.ConcurrencyConflict: 409,
    omskit.OrderOnHold: 409,
    omskit.QuantityNotCancellable: 409,
    omskit.PaymentAmountExceeded: 409,
    omskit.AuthorisationExpired: 409,
    omskit.UnsupportedPaymentOperation: 409,
    omskit.CapabilityNotSupported: 409,
    omskit.LabelPurchaseInProgress: 409,
    omskit.ReturnQuantityExceeded: 409,
    omskit.ReturnRefused: 422,
    omskit.PickupNotReady: 409,
    omskit.GoodsInTransit: 409,
    omskit.OrderNotEditable: 409,
    omskit.OrderEditClosed: 409,
    omskit.OrderEditConflict: 409,
    omskit.EditsNotSupported: 409,
    omskit.PaymentDeclined: 402,
    omskit.PaymentRetryable: 503,
    omskit.PaymentOutcomeUnknown: 502,
    omskit.CarrierRefused: 422,
    omskit.CarrierUnavailable: 503,
    omskit.CarrierOutcomeUnknown: 502,
}

PROBLEM_JSON = "application/problem+json"


@attrs.frozen(kw_only=True)
class Problem:
    """An RFC 9457 problem document, as every error answer carries it."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    #: Every problem found, when there are several (each ``"path: message"``).
    problems: list[str] | None = None


def _answer(description: str) -> ResponseSpec:
    return ResponseSpec(data_container=Problem, media_type=PROBLEM_JSON,
                        description=description, generate_examples=False)


#: The error answers every route may give, documented in the OpenAPI schema.
ERRORS: dict[int, ResponseSpec] = {
    400: _answer("Malformed JSON, wrong types, a missing Idempotency-Key, or a payload "
                 "omskit refuses while reading it"),
    401: _answer("No API key, or an unknown or revoked one"),
    403: _answer("The key's scope does not allow this"),
    404: _answer("Not found, or out of the key's reach"),
    409: _answer("A conflict with the current state (omskit's typed errors), or a request "
                 "with this Idempotency-Key still being served"),
    412: _answer("The order changed since the ETag given in If-Match"),
    422: _answer("omskit refused the command (every problem listed), or an "
                 "Idempotency-Key reused for another request"),
    428: _answer("Changing an order needs If-Match"),
}


def status_of(exc: Exception) -> int:
    """The HTTP status for an error: its own class's, else its nearest base's, else 500."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return HTTP_500_INTERNAL_SERVER_ERROR


def problem_document(exc: omskit.OmsError) -> tuple[int, dict[str, object]]:
    """The status and problem document (RFC 9457 members) for one omskit error."""
    cls = type(exc)
    title = (cls.__doc__ or cls.__name__).strip().splitlines()[0].rstrip(".;")
    status = status_of(exc)
    document: dict[str, object] = {"type": f"urn:omskit:error:{cls.__name__}",
                                   "title": title, "status": status, "detail": str(exc)}
    problems = getattr(exc, "problems", None)
    if problems:
        document["problems"] = list(problems)
    return status, document


def problem(exc: omskit.OmsError) -> ProblemDetailsException:
    """The problem exception Litestar answers with, for one omskit error."""
    status, document = problem_document(exc)
    extra = {k: v for k, v in document.items() if k not in ("type", "title", "status", "detail")}
    return ProblemDetailsException(status_code=status, type_=str(document["type"]),
                                   title=str(document["title"]), detail=str(exc),
                                   extra=extra or None)


def http_problem(exc: HTTPException) -> ProblemDetailsException:
    """Litestar's own errors (a body that is not valid JSON, a missing parameter, a route
    that does not exist) in the same shape, with the validation messages as ``problems``."""
    extra = exc.extra
    problems = ([f"{e.get('key') or e.get('source', 'body')}: {e.get('message')}"
                 for e in extra if isinstance(e, dict)] if isinstance(extra, list) else None)
    return ProblemDetailsException(
        status_code=exc.status_code, type_="about:blank", title=HTTPStatus(exc.status_code).phrase,
        detail=exc.detail, headers=exc.headers,
        extra={"problems": problems} if problems else None)


def unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Anything else is the deployment's bug: a 500 problem that says nothing internal."""
    request.logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return Response({"type": "about:blank", "title": "Internal Server Error", "status": 500},
                    status_code=HTTP_500_INTERNAL_SERVER_ERROR, media_type=PROBLEM_JSON)


def plugin() -> ProblemDetailsPlugin:
    """The Litestar plugin that answers every error with a problem document."""
    return ProblemDetailsPlugin(ProblemDetailsConfig(
        enable_for_all_http_exceptions=True,
        exception_to_problem_detail_map={omskit.OmsError: problem,
                                         HTTPException: http_problem}))
