"""A small Stripe in memory, played at the SDK's HTTP transport, for tests without network.

:class:`FakeStripe` keeps PaymentIntents, charges, refunds, disputes and events as the JSON
objects Stripe's API reference documents, and answers the requests the plugin makes:

- ``POST /v1/payment_intents`` (``confirm=true``: test PaymentMethods authorise, decline with
  a decline code, or ask for 3-D Secure), ``GET /v1/payment_intents/{id}``,
  ``GET /v1/payment_intents/search`` (``metadata['k']:'v'`` queries),
  ``POST /v1/payment_intents/{id}/capture`` (partial; multicapture with ``final_capture``),
  ``POST /v1/payment_intents/{id}/cancel``, ``POST /v1/refunds``, ``GET /v1/refunds``;
- idempotency as Stripe does it: a key is bound to its first request's parameters; the same
  key again replays the first response (``Idempotent-Replayed: true``), with other
  parameters it is a 400 ``idempotency_error``;
- errors as Stripe shapes them (``type``, ``code``, ``decline_code``, ``message``,
  ``param``), with Stripe's status codes; an unknown API key is a 401;
- authorisations lapse at the charge's ``capture_before`` (7 days, by the injected clock),
  when Stripe cancels them (``cancellation_reason=automatic``);
- every change is an ``event`` object, delivered by :meth:`FakeStripe.deliveries` with a
  ``Stripe-Signature`` computed by the SDK's own scheme, at delivery time;
- faults on the wire (:class:`Fault`): connect timeouts and refused connections (nothing
  reaches Stripe), read timeouts and 500s after Stripe did the work, 429s.

The seam is real: :meth:`FakeStripe.http_client` is the SDK's ``RequestsClient`` on a
``requests`` session whose transport adapter is this fake, so the SDK builds, encodes, sends
and parses every request as it would against api.stripe.com.
"""

from __future__ import annotations

import enum
import itertools
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import requests
import stripe
import urllib3.exceptions
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

API_KEY = "sk_test_omskit"
WEBHOOK_SECRET = "whsec_omskit_test"
AUTHORISATION_DAYS = 7
MAX_CAPTURES = 50

#: Stripe's test PaymentMethods: card brand and last4, or why the issuer declines.
APPROVED = {"pm_card_visa": ("visa", "4242"), "pm_card_mastercard": ("mastercard", "4444"),
            "pm_card_amex": ("amex", "8431")}
DECLINED = {
    "pm_card_chargeDeclined": ("card_declined", "generic_decline"),
    "pm_card_chargeDeclinedInsufficientFunds": ("card_declined", "insufficient_funds"),
    "pm_card_chargeDeclinedExpiredCard": ("expired_card", "expired_card"),
}
NEEDS_AUTHENTICATION = "pm_card_authenticationRequired"


class Fault(enum.StrEnum):
    """What goes wrong with the next matching request, on the wire."""

    #: The connection could not be made in time: nothing reached Stripe.
    CONNECT_TIMEOUT = "connect_timeout"
    #: The connection was refused: nothing reached Stripe.
    CONNECTION_REFUSED = "connection_refused"
    #: Stripe did the work; its answer never came back.
    READ_TIMEOUT = "read_timeout"
    #: Stripe did the work and answered 500 (kept for the key, as Stripe does).
    SERVER_ERROR = "server_error"
    #: Too many requests: refused with a 429, nothing done.
    RATE_LIMITED = "rate_limited"


class StripeError(Exception):
    """An error response of the fake API."""

    def __init__(self, status: int, type_: str, message: str, *, code: str | None = None,
                 param: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"error": {"type": type_, "message": message, **extra}}
        if code is not None:
            self.body["error"]["code"] = code
        if param is not None:
            self.body["error"]["param"] = param


def parse_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding back into data: ``a[b][0]=v`` → ``{"a": {"b": ["v"]}}``."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+|\[\]", key)
        node = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
    return _lists(root)


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        converted = {k: _lists(v) for k, v in node.items()}
        if converted and all(k.isdigit() for k in converted):
            return [converted[k] for k in sorted(converted, key=int)]
        return converted
    return node


class _Transport(BaseAdapter):
    """A ``requests`` transport adapter that hands every request to the fake."""

    def __init__(self, fake: FakeStripe) -> None:
        super().__init__()
        self.fake = fake

    def send(self, request: requests.PreparedRequest, stream: bool = False,
             timeout: Any = None, verify: Any = True, cert: Any = None,
             proxies: Any = None) -> requests.Response:
        return self.fake.transport(request)

    def close(self) -> None:
        pass


class FakeStripe:
    """The in-memory Stripe (module docstring). Thread-safe: one request at a time."""

    def __init__(self, clock: Callable[[], datetime], *, api_key: str = API_KEY,
                 webhook_secret: str = WEBHOOK_SECRET, multicapture: bool = True) -> None:
        self.clock = clock
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        #: Whether the account has multicapture (card payments then report it available).
        self.multicapture = multicapture
        #: Whether search sees everything yet (Stripe's search lags writes by up to a minute).
        self.searchable = True
        self.intents: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.disputes: dict[str, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        #: Every request that reached the API: (method, path, params, headers).
        self.requests: list[tuple[str, str, dict[str, Any], dict[str, str]]] = []
        self._captures: dict[str, int] = {}
        self._idempotent: dict[str, tuple[tuple[str, str, str], int, dict[str, Any]]] = {}
        self._faults: list[tuple[Fault, str, str]] = []
        self._delivered = 0
        self._request_key: str | None = None
        self._version = str(stripe.api_version)
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    # -- for tests --------------------------------------------------------------------------------

    def http_client(self) -> stripe.HTTPClient:
        """The SDK's ``RequestsClient`` with this fake as its transport."""
        session = requests.Session()
        session.mount("https://", _Transport(self))
        return stripe.RequestsClient(session=session)

    def fail_next(self, fault: Fault, *, method: str = "POST", path: str = "") -> None:
        """Make the next request of ``method`` whose path ends with ``path`` fail (queued)."""
        with self._lock:
            self._faults.append((fault, method, path))

    def deliveries(self) -> list[tuple[dict[str, str], bytes]]:
        """The webhooks for the events since the last call, oldest first, each signed now
        with the endpoint secret as Stripe signs them (``Stripe-Signature``)."""
        with self._lock:
            new, self._delivered = self.events[self._delivered:], len(self.events)
        sent = []
        for event in new:
            payload = json.dumps(event, indent=2)  # Stripe's bodies are pretty-printed
            header = stripe.WebhookSignature.generate_signature_header(
                payload, self.webhook_secret, int(time.time()))
            sent.append(({"Stripe-Signature": header, "Content-Type": "application/json"},
                         payload.encode()))
        return sent

    def captured(self, intent_id: str) -> int:
        """What Stripe holds on a payment, in minor units: captured, less refunds and the
        funds disputes took."""
        with self._lock:
            charge = self.charges[self.intents[intent_id]["latest_charge"]]
            held = sum(d["amount"] for d in self.disputes.values()
                       if d["charge"] == charge["id"] and d["status"] != "won")
            return int(charge["amount_captured"] - charge["amount_refunded"] - held)

    def dispute(self, intent_id: str, amount: int) -> str:
        """The card holder disputes ``amount``: the funds are withdrawn at once."""
        with self._lock:
            intent = self.intents[intent_id]
            charge = self.charges[intent["latest_charge"]]
            dispute = {
                "id": self._id("dp"), "object": "dispute", "amount": amount,
                "balance_transactions": [], "charge": charge["id"],
                "created": self._now(), "currency": charge["currency"],
                "is_charge_refundable": False, "livemode": False, "metadata": {},
                "payment_intent": intent_id, "reason": "fraudulent",
                "status": "needs_response"}
            self.disputes[dispute["id"]] = dispute
            charge["disputed"] = True
            self._emit("charge.dispute.created", dispute)
            self._emit("charge.dispute.funds_withdrawn", dispute)
            return str(dispute["id"])

    def close_dispute(self, intent_id: str, *, won: bool) -> None:
        """The open dispute of the payment is decided; a won one gives the funds back."""
        with self._lock:
            (dispute,) = [d for d in self.disputes.values() if d["payment_intent"] == intent_id
                          and d["status"] == "needs_response"]
            dispute["status"] = "won" if won else "lost"
            if won:
                self._emit("charge.dispute.funds_reinstated", dispute)
            self._emit("charge.dispute.closed", dispute)

    # -- the wire -----------------------------------------------------------------------------

    def transport(self, request: requests.PreparedRequest) -> requests.Response:
        """Answer one HTTP request as Stripe would (or fail it on the wire)."""
        url = urllib.parse.urlsplit(str(request.url))
        method = str(request.method)
        fault = self._take_fault(method, url.path)
        if fault is Fault.CONNECT_TIMEOUT:
            raise requests.exceptions.ConnectTimeout("connect timed out", request=request)
        if fault is Fault.CONNECTION_REFUSED:
            reason = urllib3.exceptions.NewConnectionError(
                None, "Failed to establish a new connection: [Errno 111] Connection refused")
            raise requests.exceptions.ConnectionError(reason, request=request)
        if fault is Fault.RATE_LIMITED:
            with self._lock:  # it reached Stripe, which refused it
                self.requests.append((method, url.path, {}, dict(request.headers)))
            return self._response(request, 429, {"error": {
                "type": "invalid_request_error", "code": "rate_limit",
                "message": "Too many requests hit the API too quickly."}})
        body = request.body or ""
        form = body.decode() if isinstance(body, bytes) else str(body)
        params = parse_form(urllib.parse.parse_qsl(url.query, keep_blank_values=True)
                            + urllib.parse.parse_qsl(form, keep_blank_values=True))
        headers = {str(k): str(v) for k, v in request.headers.items()}
        status, answer, replayed = self.handle(method, url.path, params, headers)
        if fault is Fault.READ_TIMEOUT:
            raise requests.exceptions.ReadTimeout("read timed out", request=request)
        if fault is Fault.SERVER_ERROR:
            return self._response(request, 500, self._store_error(headers, method, url.path,
                                                                  params))
        extra = {"Idempotent-Replayed": "true"} if replayed else {}
        return self._response(request, status, answer, extra)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for i, (fault, m, p) in enumerate(self._faults):
                if m == method and path.endswith(p):
                    del self._faults[i]
                    return fault
        return None

    def _store_error(self, headers: Mapping[str, str], method: str, path: str,
                     params: dict[str, Any]) -> dict[str, Any]:
        answer = {"error": {"type": "api_error",
                            "message": "An unknown error occurred on Stripe's servers."}}
        key = headers.get("Idempotency-Key")
        if key:
            with self._lock:
                self._idempotent[key] = ((method, path, _canonical(params)), 500, answer)
        return answer

    def _response(self, request: requests.PreparedRequest, status: int, body: dict[str, Any],
                  extra: Mapping[str, str] | None = None) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode()
        response.headers = CaseInsensitiveDict({
            "Content-Type": "application/json", "Request-Id": self._id("req"),
            "Stripe-Version": request.headers.get("Stripe-Version", ""), **(extra or {})})
        response.url = str(request.url)
        response.request = request
        response.encoding = "utf-8"
        return response

    # -- the API --------------------------------------------------------------------------------

    def handle(self, method: str, path: str, params: dict[str, Any],
               headers: Mapping[str, str]) -> tuple[int, dict[str, Any], bool]:
        """``(status, body, replayed)`` for one request that reached Stripe."""
        with self._lock:
            self.requests.append((method, path, params, dict(headers)))
            if headers.get("Authorization") != f"Bearer {self.api_key}":
                return 401, {"error": {"type": "invalid_request_error",
                                       "message": "Invalid API Key provided."}}, False
            key = headers.get("Idempotency-Key") if method == "POST" else None
            signature = (method, path, _canonical(params))
            if key is not None and key in self._idempotent:
                first, status, answer = self._idempotent[key]
                if first != signature:
                    return 400, {"error": {
                        "type": "idempotency_error",
                        "message": "Keys for idempotent requests can only be used with the "
                                   "same parameters they were first used with."}}, False
                return status, answer, True
            # Events caused by this request carry its key (``request.idempotency_key``).
            self._request_key = key
            self._version = headers.get("Stripe-Version", stripe.api_version)
            try:
                status, answer = 200, self._route(method, path, params)
            except StripeError as exc:
                status, answer = exc.status, exc.body
            finally:
                self._request_key = None
            if key is not None:
                self._idempotent[key] = (signature, status, answer)
            return status, answer, False

    def _route(self, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        self._expire_lapsed()
        expand = set(params.get("expand") or [])
        if (method, path) == ("POST", "/v1/payment_intents"):
            return self._view(self._create_intent(params), expand)
        if (method, path) == ("GET", "/v1/payment_intents/search"):
            found = self._search(str(params.get("query", "")))
            inner = {e.removeprefix("data.") for e in expand}
            return {"object": "search_result", "url": path, "has_more": False,
                    "next_page": None, "data": [self._view(i, inner) for i in found]}
        if (method, path) == ("POST", "/v1/refunds"):
            return self._create_refund(params)
        if (method, path) == ("GET", "/v1/refunds"):
            return {"object": "list", "url": path, "has_more": False,
                    "data": [r for r in reversed(self.refunds.values())
                             if r["payment_intent"] == params.get("payment_intent")]}
        matched = re.fullmatch(r"/v1/payment_intents/([^/]+)(/capture|/cancel)?", path)
        if matched is None:
            raise StripeError(404, "invalid_request_error", f"Unrecognized request URL "
                              f"({method}: {path}).")
        intent = self._intent(matched.group(1))
        action = matched.group(2)
        if method == "GET" and action is None:
            return self._view(intent, expand)
        if method == "POST" and action == "/capture":
            return self._view(self._capture(intent, params), expand)
        if method == "POST" and action == "/cancel":
            return self._view(self._cancel(intent, params), expand)
        raise StripeError(404, "invalid_request_error", f"Unrecognized request URL "
                          f"({method}: {path}).")

    # -- payment intents --------------------------------------------------------------------------

    def _create_intent(self, params: dict[str, Any]) -> dict[str, Any]:
        amount = _positive(params, "amount")
        currency = params.get("currency")
        if not isinstance(currency, str) or not re.fullmatch(r"[a-z]{3}", currency):
            raise StripeError(400, "invalid_request_error", "Invalid currency.",
                              code="parameter_invalid", param="currency")
        if params.get("confirm") != "true" or params.get("capture_method") != "manual":
            raise StripeError(400, "invalid_request_error",
                              "this fake Stripe only creates confirmed manual-capture intents")
        method = params.get("payment_method")
        if method not in (*APPROVED, *DECLINED, NEEDS_AUTHENTICATION):
            raise StripeError(400, "invalid_request_error",
                              f"No such PaymentMethod: '{method}'", code="resource_missing",
                              param="payment_method")
        options = params.get("payment_method_options") or {}
        requested = (options.get("card") or {}).get("request_multicapture")
        now = self._now()
        intent: dict[str, Any] = {
            "id": self._id("pi"), "object": "payment_intent", "amount": amount,
            "amount_capturable": 0, "amount_received": 0, "canceled_at": None,
            "cancellation_reason": None, "capture_method": "manual",
            "client_secret": self._id("secret"), "confirmation_method": "automatic",
            "created": now, "currency": currency, "description": params.get("description"),
            "last_payment_error": None, "latest_charge": None, "livemode": False,
            "metadata": dict(params.get("metadata") or {}), "next_action": None,
            "payment_method": method,
            "payment_method_options": {"card": {"request_multicapture": requested or "never"}},
            "payment_method_types": list(params.get("payment_method_types") or ["card"]),
            "status": "requires_payment_method"}
        self.intents[intent["id"]] = intent
        self._emit("payment_intent.created", intent)
        if method == NEEDS_AUTHENTICATION:
            intent["status"] = "requires_action"
            intent["next_action"] = {"type": "use_stripe_sdk", "use_stripe_sdk": {}}
            self._emit("payment_intent.requires_action", intent)
            return intent
        if method in DECLINED:
            code, decline = DECLINED[method]
            charge = self._charge(intent, status="failed")
            charge.update(failure_code=code, failure_message="Your card was declined.")
            error = {"type": "card_error", "code": code, "decline_code": decline,
                     "message": "Your card was declined.", "charge": charge["id"],
                     "payment_method": {"id": method, "object": "payment_method"}}
            intent["last_payment_error"] = error
            intent["latest_charge"] = charge["id"]
            self._emit("charge.failed", charge)
            self._emit("payment_intent.payment_failed", intent)
            raise StripeError(402, "card_error", "Your card was declined.", code=code,
                              decline_code=decline, charge=charge["id"],
                              payment_intent=self._view(intent, set()))
        available = self.multicapture and requested == "if_available"
        charge = self._charge(intent, status="succeeded")
        charge["payment_method_details"]["card"]["multicapture"] = {
            "status": "available" if available else "unavailable"}
        intent.update(status="requires_capture", amount_capturable=amount,
                      latest_charge=charge["id"])
        self._emit("charge.succeeded", charge)
        self._emit("payment_intent.amount_capturable_updated", intent)
        return intent

    def _charge(self, intent: dict[str, Any], *, status: str) -> dict[str, Any]:
        now = self._now()
        brand, last4 = APPROVED.get(intent["payment_method"], ("visa", "0002"))
        charge: dict[str, Any] = {
            "id": self._id("ch"), "object": "charge", "amount": intent["amount"],
            "amount_captured": 0, "amount_refunded": 0, "balance_transaction": None,
            "captured": False, "created": now, "currency": intent["currency"],
            "disputed": False, "failure_code": None, "failure_message": None,
            "livemode": False, "metadata": {}, "paid": status == "succeeded",
            "payment_intent": intent["id"], "payment_method": intent["payment_method"],
            "payment_method_details": {"type": "card", "card": {
                "brand": brand, "last4": last4, "exp_month": 12, "exp_year": 2034,
                "capture_before": now + AUTHORISATION_DAYS * 86400,
                "multicapture": {"status": "unavailable"}}},
            "refunded": False, "status": status}
        self.charges[charge["id"]] = charge
        return charge

    def _intent(self, intent_id: str) -> dict[str, Any]:
        found = self.intents.get(intent_id)
        if found is None:
            raise StripeError(404, "invalid_request_error",
                              f"No such payment_intent: '{intent_id}'", code="resource_missing",
                              param="intent")
        return found

    def _unexpected(self, intent: dict[str, Any], doing: str, allowed: str) -> StripeError:
        return StripeError(
            400, "invalid_request_error",
            f"This PaymentIntent could not be {doing} because it has a status of "
            f"{intent['status']}. Only a PaymentIntent with one of the following statuses may "
            f"be {doing}: {allowed}.", code="payment_intent_unexpected_state",
            payment_intent=self._view(intent, set()))

    def _capture(self, intent: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        if intent["status"] != "requires_capture":
            raise self._unexpected(intent, "captured", "requires_capture")
        charge = self.charges[intent["latest_charge"]]
        available = charge["payment_method_details"]["card"]["multicapture"]["status"]
        amount = (_positive(params, "amount_to_capture") if "amount_to_capture" in params
                  else intent["amount_capturable"])
        if "final_capture" in params and available != "available":
            raise StripeError(400, "invalid_request_error",
                              "final_capture can only be used when multicapture is available "
                              "for this PaymentIntent.", param="final_capture")
        if amount > intent["amount_capturable"]:
            raise StripeError(400, "invalid_request_error",
                              f"Amount to capture ({amount}) is greater than the amount "
                              f"capturable ({intent['amount_capturable']}).",
                              code="amount_too_large", param="amount_to_capture")
        count = self._captures.get(intent["id"], 0)
        if count >= MAX_CAPTURES:
            raise StripeError(400, "invalid_request_error",
                              f"At most {MAX_CAPTURES} captures per PaymentIntent.",
                              code="capture_limit_reached")
        self._captures[intent["id"]] = count + 1
        _merge(intent["metadata"], params.get("metadata") or {})
        final = params.get("final_capture", "true") == "true" or available != "available"
        charge.update(amount_captured=charge["amount_captured"] + amount, captured=True)
        intent["amount_received"] += amount
        intent["amount_capturable"] = 0 if final else intent["amount_capturable"] - amount
        if final or intent["amount_capturable"] == 0:
            intent["status"] = "succeeded"
        self._emit("charge.captured", charge)
        if intent["status"] == "succeeded":
            self._emit("payment_intent.succeeded", intent)
        else:
            self._emit("payment_intent.amount_capturable_updated", intent)
        return intent

    def _cancel(self, intent: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        allowed = ("requires_payment_method", "requires_capture", "requires_confirmation",
                   "requires_action")
        if intent["status"] not in allowed:
            raise self._unexpected(intent, "canceled", ", ".join(allowed))
        intent.update(status="canceled", amount_capturable=0, canceled_at=self._now(),
                      cancellation_reason=params.get("cancellation_reason"))
        self._emit("payment_intent.canceled", intent)
        return intent

    def _expire_lapsed(self) -> None:
        now = self._now()
        caused_by, self._request_key = self._request_key, None  # Stripe's own doing
        for intent in self.intents.values():
            charge = self.charges.get(intent["latest_charge"] or "")
            if intent["status"] == "requires_capture" and charge is not None and \
                    now >= charge["payment_method_details"]["card"]["capture_before"]:
                intent.update(status="canceled", amount_capturable=0, canceled_at=now,
                              cancellation_reason="automatic")
                self._emit("payment_intent.canceled", intent)
        self._request_key = caused_by

    def _search(self, query: str) -> list[dict[str, Any]]:
        matched = re.fullmatch(r"metadata\['((?:[^'\\]|\\.)*)'\]:'((?:[^'\\]|\\.)*)'", query)
        if matched is None:
            raise StripeError(400, "invalid_request_error",
                              f"this fake Stripe searches metadata only, not {query!r}",
                              param="query")
        key, value = (re.sub(r"\\(.)", r"\1", g) for g in matched.groups())
        if not self.searchable:
            return []
        return [i for i in self.intents.values() if i["metadata"].get(key) == value]

    # -- refunds --------------------------------------------------------------------------------

    def _create_refund(self, params: dict[str, Any]) -> dict[str, Any]:
        intent = self._intent(str(params.get("payment_intent")))
        charge = self.charges.get(intent["latest_charge"] or "")
        if charge is None or not charge["captured"]:
            raise StripeError(400, "invalid_request_error",
                              "This PaymentIntent has no captured charge to refund.",
                              code="charge_not_captured")
        if any(d["charge"] == charge["id"] and d["status"] == "needs_response"
               for d in self.disputes.values()):
            raise StripeError(400, "invalid_request_error",
                              f"Charge {charge['id']} has been charged back; cannot issue "
                              "a refund.", code="charge_disputed")
        left = charge["amount_captured"] - charge["amount_refunded"]
        amount = _positive(params, "amount") if "amount" in params else left
        if amount > left:
            raise StripeError(400, "invalid_request_error",
                              f"Refund amount ({amount}) is greater than unrefunded amount on "
                              f"charge ({left})", code="amount_too_large", param="amount")
        refund = {
            "id": self._id("re"), "object": "refund", "amount": amount,
            "balance_transaction": None, "charge": charge["id"], "created": self._now(),
            "currency": charge["currency"], "metadata": dict(params.get("metadata") or {}),
            "payment_intent": intent["id"], "reason": params.get("reason"),
            "status": "succeeded"}
        self.refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount_captured"]
        self._emit("refund.created", refund)
        self._emit("charge.refunded", charge)
        return refund

    # -- helpers --------------------------------------------------------------------------------

    def _view(self, intent: dict[str, Any], expand: set[str]) -> dict[str, Any]:
        shown = json.loads(json.dumps(intent))
        if "latest_charge" in expand and intent["latest_charge"]:
            shown["latest_charge"] = json.loads(json.dumps(
                self.charges[intent["latest_charge"]]))
        return shown

    def _emit(self, event_type: str, obj: dict[str, Any]) -> None:
        key = self._request_key
        self.events.append({
            "id": self._id("evt"), "object": "event", "api_version": self._version,
            "created": self._now(), "data": {"object": json.loads(json.dumps(obj))},
            "livemode": False, "pending_webhooks": 1,
            "request": {"id": self._id("req") if key else None, "idempotency_key": key},
            "type": event_type})

    def _now(self) -> int:
        return int(self.clock().timestamp())

    def _id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids):08d}omskitfake"

    def lapse(self, intent_id: str) -> timedelta:
        """How long until the intent's authorisation lapses (by the fake's clock)."""
        charge = self.charges[self.intents[intent_id]["latest_charge"]]
        return timedelta(seconds=charge["payment_method_details"]["card"]["capture_before"]
                         - self._now())


def _canonical(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True)


def _positive(params: dict[str, Any], name: str) -> int:
    raw = params.get(name)
    if not isinstance(raw, str) or not raw.isdigit() or int(raw) < 1:
        raise StripeError(400, "invalid_request_error",
                          f"Invalid positive integer: {name}={raw!r}",
                          code="parameter_invalid_integer", param=name)
    return int(raw)


def _merge(metadata: dict[str, Any], update: Mapping[str, Any]) -> None:
    for k, v in update.items():
        if v == "":
            metadata.pop(k, None)  # Stripe: an empty value removes the key
        else:
            metadata[k] = v
