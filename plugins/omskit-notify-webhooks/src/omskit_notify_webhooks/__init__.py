"""omskit-notify-webhooks: customer-facing events posted to the integrator's endpoints as
webhooks signed per the Standard Webhooks specification (the ``standardwebhooks`` library).

Contributes one notifier, ``webhooks`` (media ``webhook``), built from
``settings["notify_webhooks"]``: a list of ``endpoints`` (``id``, ``url``, ``secret`` as
``whsec_...``, optional ``events``: the message kinds or event types it wants), and how hard
to try (``attempts``, ``backoff`` and ``max_backoff`` in seconds, ``timeout``,
``disable_after`` consecutive failures). Without the key the plugin contributes nothing.

Each message is one JSON body (``type``, ``timestamp``, ``data``) posted with the headers
``webhook-id`` (the notification id: stable across retries, so receivers de-duplicate),
``webhook-timestamp`` and ``webhook-signature``. A delivery is retried at once with
exponential backoff and full jitter; an endpoint that answers ``410 Gone`` is disabled at
once, and one that failed ``disable_after`` deliveries in a row is disabled too. Endpoints
state and the delivery log live in the notifier (one process); ``redeliver`` posts a logged
message again.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from omskit import NotificationMessage, Notifier, NotifierUnavailable, hookimpl
from standardwebhooks.webhooks import Webhook

#: The key of ``settings`` this plugin reads.
SETTINGS_KEY = "notify_webhooks"
_KEYS = {"endpoints", "attempts", "backoff", "max_backoff", "timeout", "disable_after", "code"}
_ENDPOINT_KEYS = {"id", "url", "secret", "events"}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Endpoint:
    """Where webhooks go: an id, a URL, the signing secret, and which messages it wants
    (message kinds such as ``order_shipped``, or event types such as ``order.placed``;
    empty: all)."""

    id: str
    url: str
    secret: str
    events: frozenset[str] = frozenset()

    def wants(self, message: NotificationMessage) -> bool:
        """Whether the endpoint's filter lets ``message`` through."""
        return not self.events or bool(
            {message.kind.value, message.event_type} & self.events)


@dataclasses.dataclass(kw_only=True)
class EndpointState:
    """An endpoint's health in this process."""

    consecutive_failures: int = 0
    disabled: bool = False
    disabled_reason: str = ""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Delivery:
    """One logged message: what was posted, and which endpoints took it."""

    message_id: str
    body: str
    endpoints: tuple[str, ...]


def _is_secret(value: object) -> bool:
    if not isinstance(value, str) or not value.startswith("whsec_"):
        return False
    try:
        return bool(base64.b64decode(value.removeprefix("whsec_"), validate=True))
    except ValueError:
        return False


def validate(settings: Mapping[str, Any]) -> list[str]:
    """Every problem of ``settings["notify_webhooks"]`` (none when the key is absent)."""
    raw = settings.get(SETTINGS_KEY)
    if raw is None:
        return []
    if not isinstance(raw, Mapping):
        return [f"{SETTINGS_KEY}: must be a table"]
    problems = [f"{SETTINGS_KEY}.{key}: unknown key" for key in sorted(set(raw) - _KEYS)]
    endpoints = raw.get("endpoints")
    if not isinstance(endpoints, list) or not endpoints:
        problems.append(f"{SETTINGS_KEY}.endpoints: list at least one endpoint")
        endpoints = []
    seen: set[str] = set()
    for i, e in enumerate(endpoints):
        where = f"{SETTINGS_KEY}.endpoints[{i}]"
        if not isinstance(e, Mapping):
            problems.append(f"{where}: must be a table")
            continue
        problems += [f"{where}.{key}: unknown key" for key in sorted(set(e) - _ENDPOINT_KEYS)]
        if not isinstance(e.get("id"), str) or not e.get("id") or e.get("id") in seen:
            problems.append(f"{where}.id: a unique non-empty string is required")
        seen.add(str(e.get("id")))
        url = e.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            problems.append(f"{where}.url: must be an http(s) URL")
        if not _is_secret(e.get("secret")):
            problems.append(f"{where}.secret: must be a whsec_... base64 secret")
        events = e.get("events", [])
        if not isinstance(events, list) or not all(isinstance(x, str) for x in events):
            problems.append(f"{where}.events: must be a list of message kinds or event types")
    for key, low in (("attempts", 1), ("disable_after", 1)):
        value = raw.get(key, 1)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            problems.append(f"{SETTINGS_KEY}.{key}: must be a whole number of at least {low}")
    for key in ("backoff", "max_backoff", "timeout"):
        value = raw.get(key, 1)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            problems.append(f"{SETTINGS_KEY}.{key}: must be a positive number of seconds")
    return problems


class WebhookNotifier:
    """Posts each message to every enabled endpoint whose filter wants it, signed."""

    media = "webhook"

    def __init__(self, endpoints: Sequence[Endpoint], *, code: str = "webhooks",
                 attempts: int = 3, backoff: float = 0.5, max_backoff: float = 8.0,
                 timeout: float = 5.0, disable_after: int = 5,
                 sleep: Callable[[float], None] = time.sleep,
                 jitter: Callable[[], float] = random.random,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._code = code
        self.endpoints = {e.id: e for e in endpoints}
        self.state = {e.id: EndpointState() for e in endpoints}
        self.attempts = attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.disable_after = disable_after
        self._sleep = sleep
        self._jitter = jitter
        self._clock = clock
        self._log: dict[str, Delivery] = {}
        self._lock = threading.Lock()

    @property
    def code(self) -> str:
        """The notifier's code (``webhooks`` unless configured otherwise)."""
        return self._code

    # -- sending ----------------------------------------------------------------------------

    @staticmethod
    def body_of(message: NotificationMessage, at: datetime) -> str:
        """The JSON body posted for ``message``."""
        return json.dumps({
            "type": f"notification.{message.kind.value}",
            "timestamp": at.isoformat(),
            "data": {"notification_id": message.notification_id,
                     "event_type": message.event_type, "event_id": message.event_id,
                     "order_id": message.order_id, "channel": message.channel,
                     "language": message.language, "subject": message.subject,
                     **dict(message.data)},
        }, sort_keys=True, default=str)

    def send(self, message: NotificationMessage) -> str:
        """Post ``message`` to every enabled endpoint that wants it and has not taken it
        yet; its webhook id. ``NotifierUnavailable`` when an endpoint still failed after
        every attempt (omskit sends it again later; endpoints that took it are skipped)."""
        message_id = message.notification_id
        with self._lock:
            logged = self._log.get(message_id)
        body = logged.body if logged is not None else self.body_of(message, self._clock())
        done = set(logged.endpoints) if logged is not None else set()
        failed: list[str] = []
        for endpoint in self.endpoints.values():
            if endpoint.id in done or not endpoint.wants(message) or self.state[
                    endpoint.id].disabled:
                continue
            error = self._deliver(endpoint, message_id, body)
            if error is None:
                done.add(endpoint.id)
            elif not self.state[endpoint.id].disabled:
                failed.append(f"{endpoint.id}: {error}")
        with self._lock:
            self._log[message_id] = Delivery(message_id=message_id, body=body,
                                             endpoints=tuple(sorted(done)))
        if failed:
            raise NotifierUnavailable("webhook delivery failed: " + "; ".join(failed))
        return message_id

    def _deliver(self, endpoint: Endpoint, message_id: str, body: str) -> str | None:
        """Post with retries (exponential backoff, full jitter); None when delivered, else
        the last error. Updates the endpoint's health."""
        error = ""
        for attempt in range(self.attempts):
            if attempt:
                delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
                self._sleep(delay * self._jitter())
            status, error = self._post(endpoint, message_id, body)
            if status is not None and 200 <= status < 300:
                self.state[endpoint.id].consecutive_failures = 0
                return None
            if status == 410:
                self._disable(endpoint.id, "410 Gone")
                return error
            if status is not None and 400 <= status < 500 and status not in (408, 429):
                break  # the endpoint refuses this request: trying again will not help
        state = self.state[endpoint.id]
        state.consecutive_failures += 1
        if state.consecutive_failures >= self.disable_after:
            self._disable(endpoint.id, f"{state.consecutive_failures} failed deliveries in a "
                                       f"row; last: {error}")
        return error

    def _post(self, endpoint: Endpoint, message_id: str, body: str) -> tuple[int | None, str]:
        at = self._clock()
        signature = Webhook(endpoint.secret).sign(message_id, at, body)
        request = urllib.request.Request(endpoint.url, data=body.encode(), method="POST",
                                         headers={
            "content-type": "application/json", "webhook-id": message_id,
            "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": signature})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return int(response.status), ""
        except urllib.error.HTTPError as exc:
            return exc.code, f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            return None, f"{type(exc).__name__}: {exc}"

    def _disable(self, endpoint_id: str, reason: str) -> None:
        state = self.state[endpoint_id]
        state.disabled, state.disabled_reason = True, reason

    # -- operating --------------------------------------------------------------------------

    def enable(self, endpoint_id: str) -> None:
        """Enable a disabled endpoint again (its failures counted from zero)."""
        self.state[endpoint_id] = EndpointState()

    def deliveries(self) -> list[Delivery]:
        """The messages this notifier logged, oldest first."""
        with self._lock:
            return list(self._log.values())

    def redeliver(self, message_id: str, endpoint_id: str | None = None) -> dict[str, str]:
        """Post a logged message again, to one endpoint or to every enabled one that wants
        it (the same body and webhook id, a fresh signature); ``{endpoint: "delivered" |
        error}``. ``KeyError`` for a message this notifier never sent."""
        with self._lock:
            logged = self._log[message_id]
        kind = json.loads(logged.body)["type"].removeprefix("notification.")
        event_type = json.loads(logged.body)["data"].get("event_type", "")
        found: dict[str, str] = {}
        for endpoint in self.endpoints.values():
            if endpoint_id is not None and endpoint.id != endpoint_id:
                continue
            if endpoint_id is None and (self.state[endpoint.id].disabled or (
                    endpoint.events and not {kind, event_type} & endpoint.events)):
                continue
            error = self._deliver(endpoint, message_id, logged.body)
            found[endpoint.id] = "delivered" if error is None else error
        return found


def notifier_of(settings: Mapping[str, Any]) -> WebhookNotifier | None:
    """The notifier built from ``settings["notify_webhooks"]`` (None when absent or
    wrong: ``validate`` says why)."""
    raw = settings.get(SETTINGS_KEY)
    if raw is None or validate(settings):
        return None
    endpoints = [Endpoint(id=e["id"], url=e["url"], secret=e["secret"],
                          events=frozenset(e.get("events", []))) for e in raw["endpoints"]]
    options = {k: raw[k] for k in ("attempts", "backoff", "max_backoff", "timeout",
                                   "disable_after", "code") if k in raw}
    return WebhookNotifier(endpoints, **options)


class WebhooksPlugin:
    """Registers the notifier it is given (tests, hosts that build their own)."""

    def __init__(self, notifier: WebhookNotifier) -> None:
        self.notifier = notifier

    @hookimpl
    def omskit_register_notifiers(self, register: Callable[[Notifier], None]) -> None:
        """Contribute the given notifier."""
        register(self.notifier)


@hookimpl
def omskit_register_notifiers(register: Callable[[Notifier], None],
                              settings: Mapping[str, Any]) -> None:
    """The entry point's notifier, from ``settings["notify_webhooks"]`` (none without it)."""
    found = notifier_of(settings)
    if found is not None:
        register(found)


@hookimpl
def omskit_validate_settings(settings: Mapping[str, Any]) -> list[str]:
    """Every problem of ``settings["notify_webhooks"]``."""
    return validate(settings)


__all__ = ["SETTINGS_KEY", "Delivery", "Endpoint", "EndpointState", "WebhookNotifier",
           "WebhooksPlugin", "notifier_of", "validate"]
