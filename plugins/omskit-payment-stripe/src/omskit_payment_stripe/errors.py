"""Stripe's exceptions as omskit's three classes of payment failure.

- ``CardError`` (402): ``PaymentDeclined`` with the issuer's decline code as reason; asking
  again will not help. ``InvalidRequestError`` (400, 404) and ``IdempotencyError``:
  ``PaymentDeclined`` with Stripe's error code; Stripe refused the request as it is.
- ``RateLimitError`` (429), ``AuthenticationError`` (401), ``PermissionError`` (403), an
  ``APIError`` 409 (another request with the key still running): ``PaymentRetryable``;
  Stripe refused before doing anything (a key problem goes away once the key is fixed).
- ``APIConnectionError``: ``PaymentRetryable`` when the request never left (refused, DNS,
  connect timeout: :func:`never_sent`), else ``PaymentOutcomeUnknown`` (a read timeout, a
  reset connection, a TLS error: Stripe may have done it).
- ``APIError`` 5xx and anything else: ``PaymentOutcomeUnknown``.

A read (``GET``) changes nothing at Stripe, so there an unknown outcome is only retryable.
"""

from __future__ import annotations

import socket
from typing import Final

import stripe
from omskit import PaymentDeclined, PaymentOutcomeUnknown, PaymentProviderError, PaymentRetryable

#: Exception classes (of requests, urllib3, httpx), anywhere in the chain an HTTP client
#: raised, that fail before a request is written: the connection was never made. Matched by
#: name so the plugin needs none of those libraries itself. A TLS error is not among them:
#: it can also break a connection after the request went out.
NOT_SENT: Final = frozenset({"ConnectTimeout", "ConnectTimeoutError", "NewConnectionError",
                             "NameResolutionError", "ConnectError"})


def never_sent(exc: BaseException) -> bool:
    """Whether ``exc`` (an ``APIConnectionError`` and what caused it) shows the request never
    left this machine."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        found = todo.pop()
        if id(found) in seen:
            continue
        seen.add(id(found))
        if isinstance(found, ConnectionRefusedError | socket.gaierror):
            return True
        if any(c.__name__ in NOT_SENT for c in type(found).__mro__):
            return True
        # requests wraps urllib3's MaxRetryError in args; that one names its reason.
        linked = (found.__cause__, found.__context__, getattr(found, "reason", None), *found.args)
        todo.extend(x for x in linked if isinstance(x, BaseException))
    return False


def _message(exc: stripe.StripeError) -> str:
    return str(exc.user_message or type(exc).__name__)


def translate(exc: stripe.StripeError, *, changes: bool = True) -> PaymentProviderError:
    """The omskit error for a Stripe SDK exception. ``changes=False`` for a read, which
    cannot have changed anything whatever happened to it."""
    error = exc.error
    code = exc.code or (error.code if error is not None else None)
    if isinstance(exc, stripe.CardError):
        decline = error.decline_code if error is not None else None
        return PaymentDeclined(decline or code or "card_declined", _message(exc))
    if isinstance(exc, stripe.IdempotencyError):
        return PaymentDeclined("idempotency_error", _message(exc))
    if isinstance(exc, stripe.InvalidRequestError):
        return PaymentDeclined(code or "invalid_request", _message(exc))
    if isinstance(exc, stripe.RateLimitError):
        return PaymentRetryable(code or "rate_limit", _message(exc))
    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        return PaymentRetryable(code or type(exc).__name__, _message(exc))
    if isinstance(exc, stripe.APIConnectionError):
        if never_sent(exc) or not changes:
            return PaymentRetryable("api_connection", _message(exc))
        return PaymentOutcomeUnknown("api_connection", _message(exc))
    if exc.http_status == 409:
        return PaymentRetryable(code or "conflict", _message(exc))
    reason = f"http_{exc.http_status}" if exc.http_status else type(exc).__name__
    if not changes:
        return PaymentRetryable(reason, _message(exc))
    return PaymentOutcomeUnknown(reason, _message(exc))
