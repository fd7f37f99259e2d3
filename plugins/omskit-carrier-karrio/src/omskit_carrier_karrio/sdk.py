"""The one module that talks to karrio: its extensions, their capabilities, their gateways,
and one call through an extension's mapper and proxy with its failures told apart.

karrio is imported here only, and this module only when a connection is configured: importing
karrio reconfigures loguru (it removes every handler and adds its own on stderr), which an
``Oms`` without karrio connections should not pay for.

A call goes through the gateway's **mapper** (omskit's request in karrio's unified model →
the carrier's request), its **proxy** (the HTTP exchange, or a local renderer for karrio's
generic carrier) and the mapper again (the carrier's answer → karrio's unified model and
messages). The fluent interface (``karrio.Shipment.create(...).from_(gateway)``) does the
same three steps but turns every exception into a message, and the core needs to know whether
the carrier may have acted; so the plugin runs the steps itself and classifies:

- building the request fails: nothing was sent → ``CarrierRefused``;
- the connection fails before the request went out (``urllib``'s ``URLError``: refused,
  DNS, TLS, connect timeout) → ``CarrierUnavailable``;
- the exchange fails after the request went out (a read timeout, a reset, an answer cut
  short) or the answer cannot be read → ``CarrierOutcomeUnknown`` for a purchase, a void or a
  pickup, ``CarrierUnavailable`` for a read (rates, tracking);
- karrio refuses with its own error (missing fields, a carrier error raised while
  authenticating) → ``CarrierRefused``;
- the carrier answers with error messages and no result → ``CarrierRefused`` (see
  :func:`refusal`).
"""

from __future__ import annotations

import http.client
import urllib.error
from collections.abc import Mapping
from typing import Any, NamedTuple

import attrs
import karrio.api.mapper as karrio_mapper  # type: ignore[import-untyped]
import karrio.core.errors as karrio_errors  # type: ignore[import-untyped]
import karrio.references as references  # type: ignore[import-untyped]
import karrio.sdk as karrio  # type: ignore[import-untyped]
import karrio.universal.mappers.shipping_proxy as universal_shipping  # type: ignore[import-untyped]
from omskit import (
    CarrierCapability,
    CarrierError,
    CarrierOutcomeUnknown,
    CarrierRefused,
    CarrierUnavailable,
)


class Operation(NamedTuple):
    """One karrio operation: the proxy method that sends it and the mapper methods that
    build its request and parse its answer."""

    send: str
    build: str
    parse: str


#: What each omskit capability needs from a karrio extension. An extension has the
#: capability when its proxy defines the method (karrio's own capability metadata,
#: ``karrio.references.detect_proxy_methods``) and its mapper overrides both methods.
OPERATIONS: Mapping[CarrierCapability, Operation] = {
    CarrierCapability.RATES: Operation("get_rates", "create_rate_request",
                                       "parse_rate_response"),
    CarrierCapability.LABELS: Operation("create_shipment", "create_shipment_request",
                                        "parse_shipment_response"),
    CarrierCapability.VOID: Operation("cancel_shipment", "create_cancel_shipment_request",
                                      "parse_cancel_shipment_response"),
    CarrierCapability.RETURN_LABELS: Operation(
        "create_return_shipment", "create_return_shipment_request",
        "parse_return_shipment_response"),
    CarrierCapability.TRACKING: Operation("get_tracking", "create_tracking_request",
                                          "parse_tracking_response"),
    CarrierCapability.PICKUPS: Operation("schedule_pickup", "create_pickup_request",
                                         "parse_pickup_response"),
}

#: Connection fields omskit sets itself (from ``code`` and ``test_mode``), never credentials.
MANAGED_FIELDS = frozenset({"carrier_id", "test_mode", "id"})


def extensions() -> Mapping[str, Any]:
    """The carrier extensions karrio finds installed, by name (``dhl_express``, ``ups``,
    ``generic``...): karrio's ``PluginMetadata`` of each."""
    found: Mapping[str, Any] = references.collect_providers_data()
    return found


def capabilities(carrier: str) -> frozenset[CarrierCapability]:
    """What omskit may call on a connection to ``carrier``: exactly what its extension
    implements. Webhooks are never declared (see the plugin's documentation)."""
    metadata = extensions()[carrier]
    sent = set(references.detect_proxy_methods(metadata.Proxy))
    return frozenset(capability for capability, op in OPERATIONS.items()
                     if op.send in sent and _overrides(metadata.Mapper, op.build)
                     and _overrides(metadata.Mapper, op.parse))


def _overrides(mapper: type, name: str) -> bool:
    # karrio's base Mapper raises MethodNotSupportedError for every method.
    return getattr(mapper, name, None) not in (None, getattr(karrio_mapper.Mapper, name, None))


def makes_labels_locally(carrier: str) -> bool:
    """Whether the extension renders its labels on this machine (karrio's universal shipping
    mixin, which the ``generic`` carrier uses) rather than buying them over the network."""
    proxy = extensions()[carrier].Proxy
    return bool(vars(proxy).get("create_shipment") is
                universal_shipping.ShippingMixinProxy.create_shipment)


def services(carrier: str) -> frozenset[str] | None:
    """The service codes karrio knows for the extension (``dhl_express_worldwide``...), or
    None when its services are configured per connection (the generic carrier)."""
    if makes_labels_locally(carrier):
        return None
    found = extensions()[carrier].services
    return frozenset(s.name for s in found) if found is not None else None


def credential_fields(carrier: str) -> tuple[frozenset[str], frozenset[str]]:
    """(required, optional) fields of the extension's connection settings, omskit's own
    fields left out."""
    fields = attrs.fields(extensions()[carrier].Settings)
    required = frozenset(f.name for f in fields if f.default is attrs.NOTHING)
    return required - MANAGED_FIELDS, frozenset(f.name for f in fields) - required - \
        MANAGED_FIELDS


def gateway(carrier: str, code: str, credentials: Mapping[str, Any], test_mode: bool) -> Any:
    """A karrio gateway (mapper, proxy, settings) for one connection. It keeps karrio's
    cache (an OAuth token, for UPS) for as long as the caller keeps it."""
    return karrio.gateway[carrier].create(
        {**credentials, "test_mode": test_mode, "carrier_id": code})


def setup_problem(exc: BaseException) -> str:
    """What went wrong building a gateway, from karrio's exception and its cause."""
    cause = exc.__cause__
    return f"{exc}: {type(cause).__name__}: {cause}" if cause is not None else str(exc)


# -- one call ---------------------------------------------------------------------------------


def messages_text(messages: list[Any]) -> str:
    """karrio's messages as one line: ``code: message; ...``."""
    said = [f"{m.code}: {' '.join(str(m.message).split())}" if m.code
            else " ".join(str(m.message).split()) for m in messages]
    return "; ".join(said) or "no answer"


def call(gateway: Any, capability: CarrierCapability, payload: Any, *, code: str,
         write: bool) -> tuple[Any, list[Any]]:
    """Build, send and parse one operation: ``(details, messages)`` as karrio's mapper
    returns them, or a carrier error saying what the carrier may have done (module doc).
    ``write``: the operation changes something at the carrier (a label, a void, a pickup)."""
    op = OPERATIONS[capability]
    try:
        request = getattr(gateway.mapper, op.build)(payload)
    except Exception as exc:
        raise CarrierRefused(code, f"karrio refused the request: {_said(exc)}") from exc
    try:
        response = getattr(gateway.proxy, op.send)(request)
    except urllib.error.HTTPError as exc:  # karrio reads HTTP errors itself; just in case
        if exc.code == 429 or (exc.code >= 500 and not write):
            raise CarrierUnavailable(code, f"HTTP {exc.code} {exc.reason}") from exc
        if exc.code >= 500:
            raise CarrierOutcomeUnknown(code, f"HTTP {exc.code} {exc.reason}") from exc
        raise CarrierRefused(code, f"HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        # urllib wraps what fails while connecting and sending: the carrier got nothing.
        raise CarrierUnavailable(code, f"could not reach the carrier: {exc.reason}") from exc
    except (OSError, http.client.HTTPException) as exc:
        # Raised while waiting for or reading the answer: the request went out.
        raise _after_sending(code, write, f"{type(exc).__name__}: {exc}") from exc
    except karrio_errors.ShippingSDKError as exc:
        raise CarrierRefused(code, _said(exc)) from exc
    except Exception as exc:
        raise _after_sending(code, write, _said(exc)) from exc
    try:
        details, messages = getattr(gateway.mapper, op.parse)(response)
    except karrio_errors.ParsedMessagesError as exc:
        raise CarrierRefused(code, messages_text(list(exc.messages))) from exc
    except Exception as exc:
        raise _after_sending(code, write, f"unreadable answer: {_said(exc)}") from exc
    return details, list(messages or [])


def _after_sending(code: str, write: bool, message: str) -> Exception:
    if write:
        return CarrierOutcomeUnknown(code, message)
    return CarrierUnavailable(code, message)


def _said(exc: BaseException) -> str:
    if isinstance(exc, karrio_errors.ParsedMessagesError):
        return messages_text(list(exc.messages))
    details = getattr(exc, "details", None)
    text = f"{type(exc).__name__}: {exc}"
    return f"{text} {details}" if details else text


def refusal(code: str, messages: list[Any], what: str) -> CarrierError:
    """The carrier answered without a result: a refusal when it said why, else an unknown
    outcome (an error page from a proxy, an answer karrio found nothing in)."""
    if not messages:
        return CarrierOutcomeUnknown(code, f"{what}: the answer has neither a result nor a "
                                           "reason")
    return CarrierRefused(code, f"{what}: {messages_text(messages)}")


__all__ = [
    "MANAGED_FIELDS",
    "OPERATIONS",
    "Operation",
    "call",
    "capabilities",
    "credential_fields",
    "extensions",
    "gateway",
    "makes_labels_locally",
    "messages_text",
    "refusal",
    "services",
    "setup_problem",
]
